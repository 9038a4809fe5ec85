"""otter-mysql: MySQL/MariaDB binlog selector (mysql-replication) and MySQL loader (PyMySQL)."""
