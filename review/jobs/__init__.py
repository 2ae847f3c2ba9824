"""Explanation work on a task queue (Celery with Redis), for a department served by several machines.

Unset XRAY_BROKER_URL and none of this runs: the app explains in its own process, as on one computer.
"""
