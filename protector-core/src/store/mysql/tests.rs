//! MariaDB-only behaviour (needs PROTECTOR_TEST_MYSQL_URL).
