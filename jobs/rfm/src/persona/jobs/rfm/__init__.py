"""persona.jobs.rfm: the nightly RFM job, an app (run as ``python -m persona.jobs.rfm``, never imported
by other packages)."""
