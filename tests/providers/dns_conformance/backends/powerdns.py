"""PowerDNS back-ends (with and without LUA records): out-of-band access through the HTTP API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from streamverse_ctl.core.resources import Resource
from streamverse_ctl.core.secrets import Secret
from streamverse_ctl.providers.base import ProviderContext

from .base import FOREIGN, Z, fqdn
from .dnsserver import DnsServerBackend


class PowerDNSBackend(DnsServerBackend):
    def __init__(self, kind: str, pdns: Any, tmp_path: Path) -> None:
        from streamverse_ctl.providers.powerdns import PowerDNSProvider

        self.kind, self.pdns, self.address = kind, pdns, pdns.address
        self.lua = kind == "pdns-lua"
        self.provider = PowerDNSProvider("pdns", {
            "apiUrl": pdns.api_url, "apiKey": Secret(pdns.api_key, "env PDNS_API_KEY"), "zone": Z,
            "luaRecords": self.lua, "nameservers": [pdns.address], "timeout": 2}, ProviderContext(tmp_path))

    def rrsets(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {(rr["name"], rr["type"]): rr for rr in self.pdns.api("GET", f"/zones/{Z}")["rrsets"]}

    def _replace(self, name: str, rtype: str, ttl: int, contents: Sequence[str],
                 comments: Sequence[Mapping[str, Any]] | None) -> None:
        rr: dict[str, Any] = {"name": name, "type": rtype, "ttl": ttl, "changetype": "REPLACE",
                              "records": [{"content": c, "disabled": False} for c in contents]}
        if comments is not None:
            rr["comments"] = list(comments)
        self.pdns.api("PATCH", f"/zones/{Z}", {"rrsets": [rr]})

    def write(self, label: str, rtype: str, ttl: int, values: Sequence[str]) -> None:
        existing = self.rrsets().get((fqdn(label), rtype))
        comments = existing["comments"] if existing else [{"content": "managed by hand", "account": "ops"}]
        self._replace(fqdn(label), rtype, ttl, values, comments)

    def write_foreign(self) -> None:
        super().write_foreign()
        if self.lua:  # someone else's LUA record too
            self._replace(fqdn("game"), "LUA", 30, ["A \"pickrandom({'198.51.100.1','198.51.100.2'})\""], None)

    def raw_foreign(self) -> Any:
        names = {(fqdn(lb), t) for lb, t, _, _ in FOREIGN} | {(fqdn("game"), "LUA")}
        return {k: v for k, v in self.rrsets().items() if k in names}

    def set_primary_values(self, routed: Sequence[Resource], values: Sequence[str]) -> None:
        """Edit the LUA code as someone with API access would: the PRIMARY's address replaced."""
        [primary] = [r for r in routed if r.spec["failover"] == "PRIMARY"]
        lua = self.rrsets()[(primary.spec["fqdn"], "LUA")]
        [old] = primary.spec["values"]
        [new] = values
        contents = [r["content"].replace(f"'{old}'", f"'{new}'") for r in lua["records"]]
        assert contents != [r["content"] for r in lua["records"]]
        self._replace(lua["name"], "LUA", lua["ttl"], contents, lua["comments"])

    def write_foreign_weighted(self) -> None:
        self._replace(fqdn("cdn"), "LUA", 30, ["A \"pickwrandom({{10,'198.51.100.1'},{20,'198.51.100.2'}})\""],
                      [{"content": "managed by hand", "account": "ops"}])

    def raw_label(self, label: str) -> Any:
        return {k: v for k, v in self.rrsets().items() if k[0] == fqdn(label)}

    def edit_health_check_path(self, old: str, new: str) -> None:
        """The check lives in a TXT RRset and in the LUA code that embeds its URL: rewrite both."""
        hits = [rr for rr in self.rrsets().values() if old in str(rr["records"])]
        assert hits, f"no RRset holds {old}"
        for rr in hits:
            self._replace(rr["name"], rr["type"], rr["ttl"], [r["content"].replace(old, new) for r in rr["records"]],
                          [{**c, "content": c["content"].replace(old, new)} for c in rr["comments"]])

    def set_weights(self, routed: Sequence[Resource], weights: Mapping[str, int]) -> None:
        """Edit the LUA code as someone with API access would: the same code with other weights."""
        from streamverse_ctl.providers.powerdnslua import lua_content

        lua = self.rrsets()[(routed[0].spec["fqdn"], "LUA")]
        sets = [{**r.spec, "weight": weights[r.spec["set_id"]]} for r in routed]
        content = lua_content(str(routed[0].spec["rtype"]), "weighted", sets, "pickwrandom", lambda _n: None)
        self._replace(lua["name"], "LUA", lua["ttl"], [content], lua["comments"])
