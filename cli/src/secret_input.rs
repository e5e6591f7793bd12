//! Secrets given to the CLI (FlashArray API tokens): from a file, from stdin (`-`), from the
//! environment, or on the command line, where `ps` and the shell history show them.

use std::io::Read;
use std::path::Path;

use protector_core::model::Secret;

use crate::error::{CliError, CliResult};

/// Where one secret may come from, in the order it is looked for.
pub struct SecretSource<'a> {
    /// What the secret is, for messages: "the primary FlashArray's API token".
    pub what: &'a str,
    /// `--…-file`: a file (or `-`, stdin) holding it.
    pub file: Option<&'a Path>,
    /// The file option's name, for messages.
    pub file_option: &'a str,
    /// The value given on the command line.
    pub value: Option<String>,
    /// The environment variable used when neither option is given.
    pub env_var: &'a str,
}

impl SecretSource<'_> {
    /// Whether the secret is to be read from stdin.
    pub fn reads_stdin(&self) -> bool {
        self.file.is_some_and(|f| f == Path::new("-"))
    }

    /// The secret: the file's (or stdin's) content, else the command-line value, else the
    /// environment variable. Surrounding whitespace is trimmed; an empty secret, or one with
    /// control characters inside (several lines), is refused. Messages never hold the secret.
    pub fn read(self) -> CliResult<Secret> {
        if let Some(file) = self.file {
            let (text, origin) = if self.reads_stdin() {
                let mut bytes = Vec::new();
                std::io::stdin().read_to_end(&mut bytes).map_err(|e| {
                    CliError::invalid(format!(
                        "cannot read {} from stdin: {e}: pipe it in, or give {} FILE",
                        self.what, self.file_option
                    ))
                })?;
                (bytes, "stdin".to_string())
            } else {
                let bytes = std::fs::read(file).map_err(|e| {
                    CliError::invalid(format!(
                        "cannot read {} from the file {}: {e}: give {} a readable file that \
                         holds only the token",
                        self.what,
                        file.display(),
                        self.file_option
                    ))
                })?;
                (bytes, format!("the file {}", file.display()))
            };
            let text = String::from_utf8(text).map_err(|_| {
                CliError::invalid(format!(
                    "{origin} does not hold {}: it is not text: give {} a file that holds only \
                     the token",
                    self.what, self.file_option
                ))
            })?;
            return self.checked(&text, &origin);
        }
        if let Some(value) = &self.value {
            return self.checked(value, "the command line");
        }
        match std::env::var(self.env_var) {
            Ok(value) => self.checked(&value, &format!("${}", self.env_var)),
            Err(std::env::VarError::NotUnicode(_)) => Err(CliError::invalid(format!(
                "${} does not hold {}: it is not text",
                self.env_var, self.what
            ))),
            Err(std::env::VarError::NotPresent) => Err(CliError::invalid(format!(
                "no {} given: give {} FILE (`-` reads stdin) or set {}",
                self.what, self.file_option, self.env_var
            ))),
        }
    }

    fn checked(&self, text: &str, origin: &str) -> CliResult<Secret> {
        let token = text.trim();
        if token.is_empty() {
            return Err(CliError::invalid(format!(
                "{} from {origin} is empty: give {} a file that holds the token, or set {}",
                self.what, self.file_option, self.env_var
            )));
        }
        if token.chars().any(char::is_control) {
            return Err(CliError::invalid(format!(
                "{} from {origin} holds more than one line: give {} a file that holds only the \
                 token",
                self.what, self.file_option
            )));
        }
        Ok(Secret::new(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source<'a>(file: Option<&'a Path>, value: Option<&str>) -> SecretSource<'a> {
        SecretSource {
            what: "the test token",
            file,
            file_option: "--token-file",
            value: value.map(str::to_string),
            env_var: "PROTECTOR_TEST_TOKEN_THAT_IS_NEVER_SET",
        }
    }

    #[test]
    fn file_is_read_whole_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "  T-1234\n").unwrap();
        let secret = source(Some(&path), None).read().unwrap();
        assert_eq!(secret.expose(), "T-1234");
    }

    #[test]
    fn bad_files_are_named_and_never_echoed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let missing = dir.path().join("missing");
        for (contents, expected) in [
            (&b""[..], "is empty"),
            (&b" \n\t\n"[..], "is empty"),
            (&b"T-1\nT-2\n"[..], "holds more than one line"),
            (&b"\xff\xfeT-9"[..], "it is not text"),
        ] {
            std::fs::write(&path, contents).unwrap();
            let err = source(Some(&path), None).read().unwrap_err().to_string();
            assert!(err.contains(&path.display().to_string()), "{err}");
            assert!(err.contains(expected), "{err}");
            assert!(!err.contains("T-"), "{err}");
            assert_eq!(err.lines().count(), 1, "{err}");
        }
        let err = source(Some(&missing), None).read().unwrap_err();
        assert_eq!(err.exit_code(), 4);
        assert!(err.to_string().contains(&missing.display().to_string()));
    }

    #[test]
    fn command_line_value_is_used_without_a_file() {
        let secret = source(None, Some("T-5678")).read().unwrap();
        assert_eq!(secret.expose(), "T-5678");
        let err = source(None, None).read().unwrap_err().to_string();
        assert!(err.contains("--token-file"), "{err}");
    }
}
