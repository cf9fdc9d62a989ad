"""The HTTP service the functions run (the seed's src/lambda; `lambda` is a keyword), by feature.

- `handler` and `worker`: the two Lambda entry points (image commands `service.handler.handler` and
  `service.worker.handler`); each builds its clients and the model once per container.
- `api`: the routes on a Powertools resolver; `http`: the error types and response framing.
- `predict`: POST /predict. `jobs`: POST /jobs, GET /jobs/{job_id} and the worker's run of a job.
- `storage`: where synchronous uploads and results go.

It imports `inference` and `contract`, never cdktf, the stacks, the config or the local emulation.
"""
