"""The job engine: limits, queue position, cancel, timeouts and progress events; the CPU work runs elsewhere.

base.py        the Engine protocol every engine and wrapper keeps, the Order it takes, shared admission
job.py         the Job a front end holds, its events, the refusals (BusyError family)
local.py       JobQueue: worker processes on this machine (pool.py), the default
broker.py      CeleryQueue: `tunesmith worker`s anywhere through Celery on Redis (celery_app.py is the
               worker's task, celery_codec.py the JSON on the wire, celery_news.py what a task state means)
warm_pool.py   a wrapper answering plain requests from tunes made while idle
choose.py      make_queue(settings): the engine the settings ask for, wrapped
"""
