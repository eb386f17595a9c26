"""Job launcher and monitor: "Run on Local GPU / Run on TACC", then the job's state, reason and log."""

from __future__ import annotations

import html
import json
import threading

import ipywidgets as w

from ..analysis import manifest_for
from ..exceptions import VlassError

SITE_LABELS = {"local": "Run on Local GPU", "slurm": "Run on TACC (Slurm)"}


class JobLauncher(w.VBox):
    """``JobLauncher(jobs, notebook=..., inputs=[...])``: pick a site, submit, watch; ``.job`` is the job."""

    def __init__(self, jobs, *, notebook: str = "analysis-rms-catalogue.ipynb", inputs=(), parameters=None):
        self.jobs, self.inputs, self.job = jobs, list(inputs), None
        sites = sorted(jobs.sites)
        self.site = w.ToggleButtons(options=[(SITE_LABELS.get(jobs.sites[s].kind, s), s) for s in sites],
                                    value="local" if "local" in sites else sites[0], description="Site")
        profiles = [p.name for p in jobs.profiles.visible_to(jobs.groups) if p.policy] if jobs.profiles else []
        self.profile = w.Dropdown(options=profiles, description="Profile", value=profiles[0] if profiles else None)
        self.notebook = w.Text(value=notebook, description="Notebook")
        self.parameters = w.Textarea(value=json.dumps(parameters or {}), description="Parameters")
        self.button = w.Button(description="Submit", icon="play", button_style="primary")
        self.cancel_button = w.Button(description="Cancel", icon="stop", disabled=True)
        self.monitor, self.log_view = w.HTML(), w.HTML()
        self.staging = w.FloatProgress(min=0.0, max=1.0, description="Staging", layout=w.Layout(display="none"))
        self.button.on_click(lambda _: self.submit())
        self.cancel_button.on_click(lambda _: self.cancel())
        self.site.observe(lambda _: self._show_profile(), names="value")
        self._watching = threading.Event()
        super().__init__([self.site, self.profile, self.notebook, self.parameters,
                          w.HBox([self.button, self.cancel_button]), self.staging, self.monitor, self.log_view])
        self._show_profile()

    def _show_profile(self):
        slurm = self.jobs.sites[self.site.value].kind == "slurm"
        self.profile.layout.display = None if slurm else "none"

    def submit(self):
        try:
            parameters = json.loads(self.parameters.value or "{}")
            slurm = self.jobs.sites[self.site.value].kind == "slurm"
            doc = manifest_for(self.notebook.value, root=self.jobs.root, registry=self.jobs.registry,
                               parameters=parameters, inputs=self.inputs, site=self.site.value,
                               profile=self.profile.value if slurm else None)
            self.job = self.jobs.submit(doc, progress=self._staged)
        except (VlassError, ValueError) as error:
            self.monitor.value = f"<span style='color:#b00'>{html.escape(getattr(error, 'message', str(error)))}</span>"
            return None
        self.refresh()
        self.watch()
        return self.job

    def _staged(self, done: int, total: int | None) -> None:
        self.staging.layout.display = None
        self.staging.value = done / total if total else 0.0

    def refresh(self) -> dict | None:
        if self.job is None:
            return None
        status = self.job.status()
        self.monitor.value = self.job._repr_html_()
        self.log_view.value = f"<pre style='max-height:12em;overflow:auto'>{html.escape(self.job.log(lines=20))}</pre>"
        self.cancel_button.disabled = status["state"] in ("done", "failed", "cancelled")
        return status

    def watch(self, interval: float = 2.0):
        """Refresh in the background until the job ends (the kernel stays free)."""
        self._watching.set()

        def loop():
            while self._watching.is_set():
                status = self.refresh()
                if status is None or status["state"] in ("done", "failed", "cancelled"):
                    break
                threading.Event().wait(interval)
            self._watching.clear()

        threading.Thread(target=loop, daemon=True, name="vlass-job-monitor").start()

    def cancel(self):
        if self.job is not None:
            self.job.cancel()
            self.refresh()
