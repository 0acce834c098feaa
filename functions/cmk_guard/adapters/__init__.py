"""One small adapter per AWS service. The only place that talks to boto3."""
