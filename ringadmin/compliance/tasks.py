"""Periodic work on the audit trail (the beat schedule refers to the task's name)."""

from __future__ import annotations

import logging

from celery import shared_task

from ringadmin.compliance.audit import audit_chain_verify_incremental
from ringadmin.compliance.checkpoints import checkpoint_write

logger = logging.getLogger(__name__)


@shared_task(name="compliance.audit_checkpoint", ignore_result=True)
def audit_checkpoint_task() -> None:
    """Verify the entries written since the last run, then pin the head in the checkpoint
    file; a broken chain is logged as an error and pinned all the same (the file records what
    the table held, for whoever investigates)."""
    check = audit_chain_verify_incremental()
    if not check.ok:
        logger.error("audit chain broken at entry #%s: %s", check.first_bad_sequence, check.reason)
    checkpoint = checkpoint_write()
    logger.info("audit checkpoint at entry #%s", checkpoint["sequence"])
