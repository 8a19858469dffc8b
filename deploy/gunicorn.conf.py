"""gunicorn settings for Tallenne: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`."""

import multiprocessing
import os

bind = os.environ.get("TALLENNE_BIND", "127.0.0.1:8000")
# gthread, not sync: a sync worker is killed by its timeout while it streams a long recording
# or export, and the client is left with a silently short file.
worker_class = "gthread"
workers = int(os.environ.get("TALLENNE_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("TALLENNE_THREADS", 4))
timeout = 120
graceful_timeout = 30
keepalive = 5
# A worker is replaced now and then, so that nothing can grow without bound.
max_requests = 5000
max_requests_jitter = 500
# The access log never carries the query string (%(U)s is the path alone): a search by phone
# number must not leave the number in a log file.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(L)ss req=%({x-request-id}o)s'
errorlog = "-"
forwarded_allow_ips = os.environ.get("TALLENNE_FORWARDED_ALLOW_IPS", "127.0.0.1")
