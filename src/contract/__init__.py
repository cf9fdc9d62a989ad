"""What the infrastructure and the functions share: the HTTP contract, the object key layout, metric
names, environment variable names, the service's settings type, the validators and their error.

Standard library only, and it imports nothing else of the project (an import-linter contract in
`make lint`): the stacks import it without the runtime, the image carries it without cdktf.
"""
