"""URL table of the server extension (paths relative to the server's base URL)."""

from __future__ import annotations

from .handlers.datasets import (DatasetCodeHandler, DatasetHandler, DatasetSearchHandler, MultiSiteConsensusHandler, SourcesHandler,
                                SourceSyncHandler)
from .handlers.capsules import (AnalysesHandler, AnalysisGateHandler, AnalysisHandler, ForkHandler, GalleryHandler, KeysHandler,
                                LeaderboardHandler, NotebookCheckHandler, ReproducibilityManifestHandler)
from .handlers.fork_page import ForkPage
from .handlers.jobs import CacheHandler, JobHandler, JobLogHandler, JobsHandler
from .handlers.proxy import CutoutHandler, HipsHandler
from .handlers.sia2 import Sia2CapabilitiesHandler, Sia2QueryHandler


def handlers() -> list[tuple]:
    return [
        (r"/vlass/api/datasets", DatasetSearchHandler),
        (r"/vlass/api/datasets/(?P<dataset_id>.+)/multi-site-consensus", MultiSiteConsensusHandler),
        (r"/vlass/api/datasets/(?P<dataset_id>.+)/code", DatasetCodeHandler),
        (r"/vlass/api/datasets/(?P<dataset_id>.+)", DatasetHandler),
        (r"/vlass/api/sources", SourcesHandler),
        (r"/vlass/api/sources/(?P<name>[^/]+)/sync", SourceSyncHandler),
        (r"/vlass/api/cutout", CutoutHandler),
        (r"/vlass/hips/(?P<source_name>[^/]+)/(?P<path>.+)", HipsHandler),
        (r"/vlass/api/jobs", JobsHandler),
        (r"/vlass/api/jobs/(?P<job_id>[^/]+)", JobHandler),
        (r"/vlass/api/jobs/(?P<job_id>[^/]+)/log", JobLogHandler),
        (r"/vlass/api/cache", CacheHandler),
        (r"/vlass/api/keys", KeysHandler),
        (r"/vlass/api/analyses", AnalysesHandler),
        (r"/vlass/api/leaderboard", LeaderboardHandler),
        (r"/vlass/api/gallery", GalleryHandler),
        (r"/vlass/api/notebook-check", NotebookCheckHandler),
        (r"/vlass/api/analyses/gate", AnalysisGateHandler),
        (r"/vlass/api/analyses/(?P<capsule_id>[^/]+)", AnalysisHandler),
        (r"/vlass/api/analyses/(?P<capsule_id>[^/]+)/reproducibility-manifest", ReproducibilityManifestHandler),
        (r"/vlass/api/analyses/(?P<capsule_id>[^/]+)/fork", ForkHandler),
        (r"/vlass/fork/(?P<capsule_id>[0-9a-f]{64})", ForkPage),
        (r"/vlass/sia2/query", Sia2QueryHandler),
        (r"/vlass/sia2/capabilities", Sia2CapabilitiesHandler),
    ]
