"""Tests of the preventive controls: the CloudFormation hook (core, handler on the emulated account, failure modes)
and the example IAM policy."""
