"""Pure logic: models, verdicts, key policies, update plans. No boto3, no I/O."""
