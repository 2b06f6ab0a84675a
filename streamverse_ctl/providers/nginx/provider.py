"""The ``nginx`` provider: a fleet of PoPs, each an nginx cache on a host of an Ansible inventory.

It owns, per PoP, ``cdn.pop`` (the rendered config), ``cdn.cache_policy`` (TTL rules per path glob) and
``cdn.warm_set`` (titles fetched into the cache), plus per-IP rate limits (``limit_req``) set by the
``ratelimit.set`` action. Every change is one config per PoP rendered from ``templates/pop-edge.conf.j2``
and delivered by ``runbooks/playbooks/pop-deploy.yml`` (candidate, ``nginx -t``, swap, reload, verify,
roll back). The deployed state is read back from the config on the host (served by the PoP itself at
``/_streamverse/config`` to the ``adminAllow`` addresses), so an edit on the host is drift in the next plan.

Purging deletes each object's cache file on the host (``runbooks/playbooks/pop-purge.yml``): with
``proxy_cache_key $uri`` and ``levels=1:2`` the file of a path is ``cache/<x>/<yz>/md5(path)``, and a request
for an object whose file is gone is a MISS. The cache-purge module was the other choice: Debian 12's
``libnginx-mod-http-cache-purge`` (2.3) crashes the nginx 1.22 worker (signal 11) on every purge request,
the known ngx_cache_purge bug with nginx >= 1.11.6 fixed only in 2.4+.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from ...core.builtin import builtin_dir
from ...core.errors import PermanentError, ProviderError, TemporaryError
from ...core.resources import Change, Resource
from ...inventory.provider_settings import NginxSettings
from ..base import Provider, ProviderContext, VerifyResult
from ..edge import EdgeChange
from .cachelog import cache_log_ratio, recent_rate
from .hosts import PopHost, load_hosts
from .render import PopState, cache_file, config_digest, parse, render, unsafe_pattern

T = TypeVar("T")
TYPES = ("cdn.pop", "cdn.cache_policy", "cdn.warm_set")


def _run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


class NginxProvider(Provider):
    provider_type = "nginx"
    settings_model: ClassVar[type[Any] | None] = NginxSettings
    resource_types: ClassVar[frozenset[str]] = frozenset(TYPES)
    #: operations outside plan/apply this provider carries out for real (see providers/edge.py)
    implements: ClassVar[frozenset[str]] = frozenset({"cdn.warm_job", "cdn.rate_limit"})
    max_concurrency: ClassVar[int] = 1  # one batch per stage: one playbook run delivers every PoP's config

    def __init__(self, name: str, settings: Mapping[str, Any], context: ProviderContext) -> None:
        super().__init__(name, settings, context)
        try:
            self.cfg = NginxSettings.model_validate(dict(settings))
        except ValueError as exc:
            raise PermanentError(f"nginx provider '{name}': bad settings: {exc}") from exc
        self.template = Path(self.cfg.template) if self.cfg.template else builtin_dir("templates") / "pop-edge.conf.j2"
        playbooks = builtin_dir("runbooks") / "playbooks"
        self.playbook = Path(self.cfg.playbook) if self.cfg.playbook else playbooks / "pop-deploy.yml"
        self.purge_playbook = playbooks / "pop-purge.yml"
        self._hosts: dict[str, PopHost] | None = None
        self.reports: list[EdgeChange] = []  # what the last applies changed, per PoP (actions read these)

    # ----- hosts and state ----------------------------------------------------------------------
    @property
    def hosts(self) -> dict[str, PopHost]:
        if self._hosts is None:
            self._hosts = load_hosts(self.cfg.ansible_inventory, self.name)
        return self._hosts

    def _host(self, pop: str) -> PopHost:
        if pop not in self.hosts:
            raise PermanentError(f"nginx provider '{self.name}': PoP {pop} is not a host of the Ansible inventory "
                                 f"{self.cfg.ansible_inventory} (hosts: {', '.join(sorted(self.hosts))})")
        return self.hosts[pop]

    def _client(self) -> Any:
        import httpx

        return httpx.AsyncClient(timeout=self.cfg.timeout, headers={"X-Streamverse-Warm": "read"})

    async def _configs(self, pops: Sequence[str]) -> dict[str, str | None]:
        """The config text on each PoP's disk (None: the PoP serves no streamverse config)."""
        import httpx

        async with self._client() as client:
            async def one(pop: str) -> tuple[str, str | None]:
                url = f"{self._host(pop).edge_url}/_streamverse/config"
                try:
                    r = await client.get(url)
                except httpx.HTTPError as exc:
                    raise TemporaryError(f"PoP {pop}: cannot read its config at {url}: {exc}") from exc
                if r.status_code == 403:
                    raise PermanentError(f"PoP {pop}: {url} refused this address (adminAllow)")
                return pop, (r.text if r.status_code == 200 else None)

            return dict(await asyncio.gather(*(one(p) for p in pops)))

    def states(self, pops: Sequence[str] | None = None) -> dict[str, PopState]:
        texts = _run(self._configs(sorted(pops if pops is not None else self.hosts)))
        return {p: (parse(t) if t is not None else None) or PopState() for p, t in texts.items()}

    # ----- read ---------------------------------------------------------------------------------
    def _read(self, types: Sequence[str]) -> list[Resource]:
        out: list[Resource] = []
        for pop, st in sorted(self.states().items()):
            if st.pop is not None and "cdn.pop" in types:
                spec = dict(st.pop)
                if st.edited:
                    spec["edited_outside"] = st.edited
                out.append(Resource("cdn.pop", pop, spec, self.name))
            if "cdn.cache_policy" in types:
                out += [Resource("cdn.cache_policy", n, s, self.name) for n, s in sorted(st.cache_policies.items())]
            if "cdn.warm_set" in types:
                out += [Resource("cdn.warm_set", n, s, self.name) for n, s in sorted(st.warm_sets.items())]
        return out

    def check(self, desired: Sequence[Resource]) -> list[str]:
        problems = super().check(desired)
        try:
            hosts = self.hosts
        except PermanentError as exc:
            return [*problems, str(exc)]
        for r in desired:
            pop = r.name if r.type == "cdn.pop" else str(r.spec.get("pop", ""))
            if pop not in hosts:
                problems.append(f"provider '{self.name}' (nginx): PoP {pop} (needed by {r.origin or r.id}) is not a "
                                f"host of the Ansible inventory {self.cfg.ansible_inventory}")
            for pattern in (r.spec.get("ttl_overrides") or {}) if r.type == "cdn.cache_policy" else ():
                why = unsafe_pattern(str(pattern))
                if why:
                    problems.append(f"provider '{self.name}' (nginx): {why} (in {r.origin or r.id})")
        return problems

    # ----- apply --------------------------------------------------------------------------------
    def _batches(self, changes: Sequence[Change]) -> Sequence[Sequence[Change]]:
        return [list(changes)]

    def _apply(self, batch: Sequence[Change]) -> None:
        pops = sorted({_pop_of(c) for c in batch})
        for p in pops:
            self._host(p)
        states = self.states(pops)
        new = {p: PopState.from_json(states[p].as_json()) for p in pops}
        for c in batch:
            st = new[_pop_of(c)]
            if c.type == "cdn.pop":
                st.pop = dict(c.after) if c.after is not None else None
            else:
                table = st.cache_policies if c.type == "cdn.cache_policy" else st.warm_sets
                if c.after is None:
                    table.pop(c.name, None)
                else:
                    table[c.name] = dict(c.after)
        # warm what a warm set adds before recording it, purge what none keeps any more
        added = {p: sorted(set(new[p].titles()) - set(states[p].titles())) for p in pops}
        removed = {p: sorted(set(states[p].titles()) - set(new[p].titles())) for p in pops}
        if any(added.values()):
            self.reports += self._warm({p: t for p, t in added.items() if t})
        if any(removed.values()):
            self.reports += self._purge({p: t for p, t in removed.items() if t})
        self._deploy(new, states, what=", ".join(sorted({f"{c.action} {c.type}" for c in batch})))

    def _render(self, pop: str, state: PopState) -> str:
        host = self._host(pop)
        # the PoP's origin: its own region's, or the region it was switched to (cdn.set_origin)
        switched = (state.pop or {}).get("origin_region")
        region = str(switched or (state.pop or {}).get("region", ""))
        fixed = [] if switched else self.cfg.origin.endpoints  # settings.origin names the PoPs' own origin
        endpoints = fixed or list(self.context.regions.get(region, {}).get("endpoints") or [])
        if not endpoints:
            raise PermanentError(f"nginx provider '{self.name}': no origin for PoP {pop}: set "
                                 f"settings.origin.endpoints or endpoints on Region {region or '?'}")
        return render(self.template, state, host.vars, provider=self.name, pop=pop,
                      origin_scheme=self.cfg.origin.scheme,
                      origin_servers=[f"{e}:{self.cfg.origin.port}" for e in endpoints],
                      admin_allow=list(self.cfg.admin_allow), video_path=self.cfg.video_path)

    def _deploy(self, new: Mapping[str, PopState], old: Mapping[str, PopState], what: str) -> list[str]:
        from .deploy import deploy

        configs = {}
        for pop, st in new.items():
            text = self._render(pop, st)
            configs[pop] = {"text": text, "digest": config_digest(text) or ""}
        result = deploy(self.playbook, self.cfg.ansible_inventory, configs)
        for pop in result.ok:
            self.reports.append(EdgeChange(self.name, pop, f"config deployed ({what}), nginx -t passed, reloaded, "
                                                           "serving the new digest"))
        if result.failed:
            done = f"; deployed on {', '.join(result.ok)}" if result.ok else ""
            raise ProviderError(f"provider '{self.name}': config not deployed on "
                                + "; ".join(f"{p} ({why}; its previous config still serves)"
                                            for p, why in sorted(result.failed.items())) + done)
        return result.ok

    # ----- whole configs (canary rollouts: runbook/actions/pop.py) -----------------------------
    def config_texts(self, pops: Sequence[str]) -> dict[str, str | None]:
        """The config text each PoP has on disk (None: no streamverse config)."""
        for p in pops:
            self._host(p)
        return _run(self._configs(sorted(pops)))

    def redeploy(self, pops: Sequence[str], dry_run: bool = False) -> list[EdgeChange]:
        """Re-render the PoPs' configs from the state they serve with the current template and host vars,
        and deploy those whose text changes (a template change the plan cannot see: the state is the same)."""
        texts = self.config_texts(pops)
        states = {p: (parse(t) if t else None) or PopState() for p, t in texts.items()}
        stale = {p: st for p, st in states.items() if st.pop is not None and self._render(p, st) != texts[p]}
        if not stale or dry_run:
            return [EdgeChange(self.name, p, "would re-render its config (template or host vars changed)")
                    for p in sorted(stale)]
        mark = len(self.reports)
        self._deploy(stale, states, what="re-rendered: template or host vars changed")
        return self.reports[mark:]

    def restore_configs(self, texts: Mapping[str, str]) -> list[EdgeChange]:
        """Deploy these exact config texts (a rollback to what the PoPs served before), with the same
        candidate, ``nginx -t``, swap, reload and verify as every deploy."""
        from .deploy import deploy

        for p in texts:
            self._host(p)
        result = deploy(self.playbook, self.cfg.ansible_inventory,
                        {p: {"text": t, "digest": config_digest(t) or ""} for p, t in texts.items()})
        done = [EdgeChange(self.name, p, "earlier config re-deployed, nginx -t passed, reloaded, serving its digest")
                for p in result.ok]
        self.reports += done
        if result.failed:
            raise ProviderError(f"provider '{self.name}': earlier config not re-deployed on "
                                + "; ".join(f"{p} ({why})" for p, why in sorted(result.failed.items())))
        return done

    # ----- edge operations (providers/edge.py) -------------------------------------------------
    def _warm(self, titles: Mapping[str, Sequence[str]]) -> list[EdgeChange]:
        from .warm import Warmer

        async def go() -> list[Any]:
            w = Warmer(self.cfg.warm_concurrency, self.cfg.timeout, len(titles), self.cfg.warm_method)
            try:
                per = await asyncio.gather(*(w.warm(p, self._host(p).edge_url, self.cfg.master_path, list(t))
                                             for p, t in sorted(titles.items())))
            finally:
                await w.aclose()
            return [r for rs in per for r in rs]

        results = _run(go())
        changes = [EdgeChange(self.name, r.pop, f"warmed {r.title}: {r.hits}/{r.objects} objects HIT"
                                                + (f" ({r.bytes / 1e6:.0f} MB pulled)" if r.bytes >= 1e6 else ""))
                   for r in results if r.ok]
        bad = [r for r in results if not r.ok]
        if bad:
            detail = "; ".join(f"{r.pop} {r.title}: {r.hits}/{r.objects} HIT, {len(r.failed)} failed "
                               f"(first: {r.failed[0] if r.failed else 'no objects'})" for r in bad[:5])
            done = f"; done: {', '.join(str(c) for c in changes)}" if changes else ""
            raise ProviderError(f"provider '{self.name}': warming failed on {len(bad)} PoP/title(s): {detail}{done}")
        return changes

    def _purge(self, titles: Mapping[str, Sequence[str]]) -> list[EdgeChange]:
        """Delete the titles' objects from the PoPs' caches: list them through each PoP (its playlists),
        then remove their cache files on the host with the purge playbook."""
        from urllib.parse import urlsplit

        from .deploy import purge
        from .warm import Warmer

        async def go() -> list[Any]:
            w = Warmer(self.cfg.warm_concurrency, self.cfg.timeout, len(titles))
            try:
                per = await asyncio.gather(*(w.listing(p, self._host(p).edge_url, self.cfg.master_path, list(t))
                                             for p, t in sorted(titles.items())))
            finally:
                await w.aclose()
            return [r for rs in per for r in rs]

        results = _run(go())
        listing_failed = [f"{r.pop} {r.title}: {f}" for r in results for f in r.failed if "HTTP 404" not in f]
        if listing_failed:
            raise ProviderError(f"provider '{self.name}': cannot list what to purge: {'; '.join(listing_failed[:5])}")
        files: dict[str, list[str]] = {}
        for r in results:
            files.setdefault(r.pop, []).extend(cache_file(urlsplit(u).path) for u in r.urls)
        result, counts = purge(self.purge_playbook, self.cfg.ansible_inventory, files)
        if result.failed:
            raise ProviderError(f"provider '{self.name}': purge failed on "
                                + "; ".join(f"{p} ({why})" for p, why in sorted(result.failed.items())))
        titles_of = {p: ", ".join(r.title for r in results if r.pop == p) for p in files}
        return [EdgeChange(self.name, p, f"purged {titles_of[p]}: {counts.get(p, 0)} cached object(s) removed of "
                                         f"{len(files[p])}") for p in sorted(files)]

    def warm(self, pops: Sequence[str], titles: Mapping[str, Sequence[str]] | None = None) -> list[EdgeChange]:
        """Fetch ``titles`` (PoP -> titles; default: each PoP's warm sets) through the PoPs and verify hits."""
        wanted = dict(titles) if titles is not None else {p: s.titles() for p, s in self.states(pops).items()}
        wanted = {p: list(t) for p, t in wanted.items() if p in pops and t}
        for p in wanted:
            self._host(p)
        return self._warm(wanted) if wanted else []

    def purge(self, titles: Mapping[str, Sequence[str]]) -> list[EdgeChange]:
        for p in titles:
            self._host(p)
        return self._purge({p: list(t) for p, t in titles.items() if t})

    def set_rate_limit(self, scope: str, rps: int | None, pops: Sequence[str] | None = None,
                       dry_run: bool = False) -> list[EdgeChange]:
        if scope != "global" and not (scope.startswith("video:") and len(scope) > 6):
            raise PermanentError(f"rate limit scope must be 'global' or 'video:ID', not {scope!r}")
        if scope.startswith("video:") and unsafe_pattern(self.cfg.video_path.format(video=scope[6:])):
            raise PermanentError(f"rate limit scope {scope!r}: the video id holds characters a path may not")
        states = self.states(pops if pops is not None else None)
        targets = {p: s for p, s in states.items() if s.pop is not None}
        shown = f"{rps} req/s" if rps is not None else "none"
        changes: list[EdgeChange] = []
        new: dict[str, PopState] = {}
        for pop, st in sorted(targets.items()):
            before = st.rate_limits.get(scope)
            if before == rps:
                continue
            ns = PopState.from_json(st.as_json())
            if rps is None:
                ns.rate_limits.pop(scope, None)
            else:
                ns.rate_limits[scope] = int(rps)
            new[pop] = ns
            would = "would set" if dry_run else "set"
            was = f"{before} req/s" if before is not None else "none"
            changes.append(EdgeChange(self.name, pop, f"{would} per-IP limit of {scope}: {was} -> {shown}"))
        if new and not dry_run:
            self._deploy(new, targets, what=f"rate limit {scope} -> {shown}")
        return changes

    def rate_limits(self) -> dict[str, dict[str, int]]:
        return {p: dict(s.rate_limits) for p, s in self.states().items() if s.pop is not None}

    def _log_tails(self) -> dict[str, list[str]]:
        """PoP -> the last ``hitRatioLines`` whole lines of its cache-status log (read over HTTP, a byte range)."""
        import httpx

        async def go() -> dict[str, list[str]]:
            async with self._client() as client:
                async def one(pop: str) -> tuple[str, list[str] | None]:
                    url = f"{self._host(pop).edge_url}/_streamverse/cache-log"
                    try:
                        r = await client.get(url, headers={"Range": f"bytes=-{self.cfg.hit_ratio_lines * 80}"})
                    except httpx.HTTPError as exc:
                        raise TemporaryError(f"PoP {pop}: cannot read its cache log at {url}: {exc}") from exc
                    if r.status_code not in (200, 206):
                        return pop, None
                    rows = r.text.splitlines()
                    start = r.headers.get("content-range", "bytes 0-").split(" ")[-1].split("-")[0]
                    if start not in ("", "0") and rows:
                        rows = rows[1:]  # a byte range starts mid-line
                    return pop, rows[-self.cfg.hit_ratio_lines:]

                found = await asyncio.gather(*(one(p) for p in sorted(self.hosts)))
            return {p: rows for p, rows in found if rows is not None}

        return _run(go())

    def hit_ratios(self) -> dict[str, float]:
        """PoP -> hits / (hits + misses) over the last ``hitRatioLines`` client requests its cache log holds."""
        out = {p: cache_log_ratio("\n".join(rows), len(rows) or 1) for p, rows in self._log_tails().items()}
        return {p: v for p, v in out.items() if v is not None}

    def request_rates(self, window: float = 60.0) -> dict[str, float]:
        """PoP -> client requests per second over the last ``window`` seconds (from the same log)."""
        now = time.time()
        return {pop: recent_rate(rows, now, window) for pop, rows in self._log_tails().items()}

    # ----- verify -------------------------------------------------------------------------------
    def verify(self, desired: Sequence[Resource], timeout: float = 30.0) -> list[VerifyResult]:
        """Each resource is in the config on its PoP's disk, and that config is the one nginx serves."""
        pops = sorted({r.name if r.type == "cdn.pop" else str(r.spec.get("pop")) for r in desired})
        texts = _run(self._configs(pops))
        served = _run(self._served_digests(pops))
        out = []
        for r in desired:
            pop = r.name if r.type == "cdn.pop" else str(r.spec.get("pop"))
            text = texts.get(pop)
            st = parse(text) if text else None
            if st is None:
                out.append(VerifyResult(r.id, False, 0.0, f"PoP {pop} serves no streamverse config", pop))
                continue
            have = st.pop if r.type == "cdn.pop" else (
                st.cache_policies if r.type == "cdn.cache_policy" else st.warm_sets).get(r.name)
            ok = have == dict(r.spec) and not st.edited and served.get(pop) == config_digest(text or "")
            detail = "" if ok else (st.edited or ("nginx serves another config than the one on disk"
                                                  if served.get(pop) != config_digest(text or "") else "differs"))
            out.append(VerifyResult(r.id, ok, 0.0, detail, pop))
        return out

    async def _served_digests(self, pops: Sequence[str]) -> dict[str, str]:
        import httpx

        async with self._client() as client:
            async def one(pop: str) -> tuple[str, str]:
                try:
                    r = await client.get(f"{self._host(pop).edge_url}/_streamverse/digest")
                except httpx.HTTPError:
                    return pop, ""
                return pop, r.text.strip() if r.status_code == 200 else ""

            return dict(await asyncio.gather(*(one(p) for p in pops)))


def _pop_of(c: Change) -> str:
    if c.type == "cdn.pop":
        return c.name
    spec = c.after if c.after is not None else c.before
    return str((spec or {}).get("pop", ""))
