"""Runtime control, monitoring and alarms of the manager (standalone processes or ZooKeeper nodes)."""
