"""The manager: web console and JSON API over the config store, runtime control, monitoring and alarms."""
