"""VlassProfilesSpawner: wrapspawner's ProfilesSpawner driven by the admins' YAML (named fields).

The profiles are re-read when the file changes, filtered by the user's JupyterHub groups, and the
form shows the user's remaining allocation, their approval requests and Slurm's start estimates.
"""

from __future__ import annotations

import asyncio

from jupyterhub.spawner import LocalProcessSpawner, Spawner
from tornado import web
from traitlets import Dict, Float, Type, Unicode, default
from wrapspawner import ProfilesSpawner, WrapSpawner

from jupyter_vlass.exceptions import VlassError
from jupyter_vlass.hub_client import ORCID_ENV

from .forms import options_from_form, render_form
from .hubstore import HubStore
from jupyter_vlass.compute.messages import when
from .slurm import VlassSlurmSpawner, http_error


class VlassProfilesSpawner(ProfilesSpawner):
    profiles_file = Unicode(help="The admins' profiles YAML (re-read when it changes).").tag(config=True)
    db_url = Unicode("", help="Hub database for the ledger and approvals.").tag(config=True)
    slurm_spawner_class = Type(VlassSlurmSpawner, help="Spawner for `kind: slurm` profiles.").tag(config=True)
    local_spawner_class = Type(LocalProcessSpawner, help="Spawner for `kind: local` profiles.").tag(config=True)
    slurm_config = Dict({}, help="Extra config for the Slurm spawner.").tag(config=True)
    local_config = Dict({}, help="Extra config for the local spawner.").tag(config=True)
    estimate_timeout = Float(5.0, help="Longest wait for start estimates when rendering the form.").tag(config=True)
    hub_service_url = Unicode("", help="The vlass hub service's URL with its prefix, which users' servers ask "
                                       "before running analysis jobs and tell what they cost.").tag(config=True)
    orcid = Unicode("", help="The user's ORCID iD's URL, from the login (the OIDC auth_state hook sets it).")

    @default("apply_user_options")
    def _options_are_validated_by_the_child(self):
        return lambda spawner, options: None  # the chosen profile's spawner parses and bounds them

    @property
    def store(self) -> HubStore:
        return HubStore.for_url(self.db_url)

    def _profile_set(self):
        try:
            return self.store.profiles(self.profiles_file)
        except VlassError as error:
            raise http_error(error) from None

    @property
    def profiles(self):  # wrapspawner reads this; our own code uses named Profile objects
        groups = [g.name for g in self.user.groups]
        return [(p.display_name, p.name, self._class_of(p), self._config_of(p))
                for p in self._profile_set().visible_to(groups)]

    def _class_of(self, profile):
        return self.slurm_spawner_class if profile.kind == "slurm" else self.local_spawner_class

    def _config_of(self, profile) -> dict:
        if profile.kind == "local":
            return dict(self.local_config)
        return {**self.slurm_config, "profile_name": profile.name, "profiles_file": self.profiles_file,
                "db_url": self.db_url}

    async def get_options_form(self):
        profile_set = self._profile_set()
        visible = profile_set.visible_to([g.name for g in self.user.groups])
        probe = self.slurm_spawner_class(user=self.user, config=self.config, hub=self.hub, db=self.db,
                                         **self._config_of(next((p for p in visible if p.kind == "slurm"),
                                                                visible[0])))
        estimates = {}
        slurm = [p for p in visible if p.policy]
        try:
            starts = await asyncio.wait_for(asyncio.gather(*(probe.estimate(p.policy.defaults) for p in slurm)),
                                            self.estimate_timeout)
            estimates = {p.name: when(t) for p, t in zip(slurm, starts) if t is not None}
        except (asyncio.TimeoutError, VlassError, KeyError):
            pass
        balances, approvals = [], []
        if slurm:
            try:
                await self.store.sync_ledger(self.profiles_file, probe.site, min_interval=5.0)
            except VlassError:
                pass
            balances = [self.store.ledger(self.profiles_file).balance(probe.project)]
            approvals = self.store.approvals(self.profiles_file).list(user=self.user.name)[:5]
        return render_form(visible, balances=balances, approvals=approvals, estimates=estimates,
                           profiles_error=self.store.profiles_error(self.profiles_file))

    def options_from_form(self, formdata):
        return options_from_form(formdata, self._profile_set())

    def project(self) -> str:
        """The allocation project this user charges, decided as the Slurm spawner decides it."""
        return self.slurm_spawner_class(user=self.user, config=self.config, hub=self.hub, db=self.db,
                                        **{**self.slurm_config, "db_url": self.db_url}).project

    def start(self):
        if self.child_spawner is None:
            self.construct_child()
        child = self.child_spawner
        if self.hub_service_url:  # the server's analysis jobs are authorized and charged by the hub service
            project = self.project()
            ledger = self.store.ledger(self.profiles_file)
            ledger.add_member(self.user.name, project)
            ledger.record_identity(self.user.name, self.orcid or None)  # what a signed capsule may name
            child.environment = {**child.environment, "JUPYTER_VLASS_HUB_SERVICE": self.hub_service_url,
                                 "JUPYTER_VLASS_PROJECT": project, **({ORCID_ENV: self.orcid} if self.orcid else {})}
        if hasattr(child, "start_budget"):
            # wrapspawner links the wrapper's traits onto the child, so the child's own queue-aware
            # default would be replaced by the wrapper's (60 s); the hub reads the wrapper's value.
            self.start_timeout = child.start_budget()
        return child.start()

    def select_profile(self, profile):
        for display, key, cls, config in self.profiles:
            if key == profile:
                self.child_class, self.child_config = cls, config
                return
        raise web.HTTPError(400, f"profile: {str(profile)[:64]!r} is not one of your profiles",
                            reason="invalid_request")

    def construct_child(self):
        if self.child_spawner is None:
            try:
                profile = self._profile_set().choose(self.user_options, groups=[g.name for g in self.user.groups])
            except VlassError as error:
                raise http_error(error) from None
            self.user_options = {**self.user_options, "profile": profile.name}
        return super().construct_child()

    def load_state(self, state):
        """Rebuild the child only for a server that has state (a running job), from that state alone.

        wrapspawner rebuilds it from the saved ``user_options`` too, so one bad request (an unknown
        profile) would make every later spawn of that user fail with the old error.
        """
        Spawner.load_state(self, state)
        self.child_state = state.get("child_state", {})
        if not self.child_state:
            return
        self.load_child_class(state)
        self.child_config = {**self.child_config, **state.get("child_conf", {})}
        WrapSpawner.construct_child(self)

    def load_child_class(self, state):
        self.child_profile = state.get("profile", "")
        if self.child_profile:
            try:
                self.select_profile(self.child_profile)
            except web.HTTPError:
                # The admins removed or restricted the profile while the server ran: keep managing the
                # server with the spawner kind its saved state shows, so it is not orphaned.
                self.log.warning("profile %r of a running server is no longer offered", self.child_profile)
                slurm = "job_id" in state.get("child_state", {})
                self.child_class = self.slurm_spawner_class if slurm else self.local_spawner_class
                self.child_config = state.get("child_conf", {})
