"""The HTTP service the functions run (the seed's src/lambda; `lambda` is a keyword).

It imports `inference`, never cdktf. Today it holds the settings the stacks
hand to it through environment variables (`service.settings`); the handlers
join it with the `/predict` issue.
"""
