"""Providers: the only modules that talk to real systems (boto3, dnspython, httpx, kubernetes, ...).

Each provider declares the resource types it owns and the features it supports, reads actual
state and applies changes. :class:`streamverse_ctl.providers.base.Provider` holds the policy
(capability checks, batching, bounded concurrency, retries, progress); a subclass's ``_read`` and
``_apply`` do the I/O. Heavy client libraries are imported inside the provider modules only.
"""
