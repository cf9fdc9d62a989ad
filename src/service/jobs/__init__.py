"""Long audio as jobs: POST /jobs and GET /jobs/{job_id} (`requests`), the status documents in S3
(`store`), and the worker's run of one uploaded file (`runner`, called by `service.worker`)."""
