"""Step 5 of the publishing path: posts whose schedule was lost, or whose publish got stuck, are resumed.

The sweeper never publishes by itself: it asks for one more run of the upload function (a one-time
follow-up schedule), and that run claims the post like any other. So the sweeper inherits every
guarantee of publishing (one claim at a time, a stored publish_id never re-initialised) and a
purge run stays short whatever the size of the videos.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from flowctory.models.posts import PostStatus
from flowctory.observability import logger

if TYPE_CHECKING:
    from flowctory.adapters.post_repository import PostRepository
    from flowctory.adapters.scheduler import PostScheduler

# Scheduler wants a time ahead; a minute also lets a follow-up due right now fire first.
RESUME_DELAY = timedelta(minutes=1)


@dataclass
class ReconcileReport:
    resumed: list[str] = field(default_factory=list)  # post ids handed to the upload function again
    already_resuming: int = 0


def reconcile_posts(posts: "PostRepository", scheduler: "PostScheduler", *, now: datetime) -> ReconcileReport:
    """Hand every overdue, never-claimed post and every post stuck past its lease back to the upload function."""
    report = ReconcileReport()
    for user_id, post_id in posts.needing_attention(now):
        post = posts.get(user_id, post_id)
        if post is None or post.status not in (PostStatus.PENDING, PostStatus.PROCESSING):
            continue
        overdue = post.status is PostStatus.PENDING and post.scheduled_at <= now
        stuck = post.status is PostStatus.PROCESSING and (post.lease_until is None or post.lease_until < now)
        if not (overdue or stuck):
            continue
        created = scheduler.follow_up(
            post_id=post_id, user_id=user_id, at=now + RESUME_DELAY, label=f"sweep{post.attempts}"
        )
        if created:
            report.resumed.append(post_id)
            logger.warning("post resumed by the sweeper", post_id=post_id, status=post.status.value, stuck=stuck)
        else:
            report.already_resuming += 1
    return report
