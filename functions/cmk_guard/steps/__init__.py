"""The workflow's steps as plain functions over adapters: what each Lambda does, without Lambda."""
