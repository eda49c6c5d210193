"""Dispatch: the scheduler's tick claims due deliveries (`tick`) and publishes their send
tasks (`dispatcher`) on the task queue (`queue`: Celery's configuration and app factory)."""
