"""The AWS ports on boto3 (+ tenacity retries): the only importer of boto3/botocore."""
