"""RFC 2136 back-ends (BIND 9 and Knot): out-of-band writes are TSIG-signed UPDATEs, reads are AXFRs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.update
import dns.zone

from streamverse_ctl.core.resources import Resource
from streamverse_ctl.core.secrets import Secret
from streamverse_ctl.providers.base import ProviderContext
from streamverse_ctl.providers.dnsverify import parse_server

from .base import FOREIGN, Z, fqdn
from .dnsserver import DnsServerBackend


class RFC2136Backend(DnsServerBackend):
    def __init__(self, kind: str, server: Any, tmp_path: Path) -> None:
        from streamverse_ctl.providers.rfc2136 import RFC2136Provider

        self.kind, self.server, self.address = kind, server, server.address
        self.provider = RFC2136Provider(kind, {
            "server": server.address, "zone": Z, "tsigKeyName": server.key_name,
            "tsigSecret": Secret(server.secret, "env TEST_TSIG"), "nameservers": [server.address],
            "timeout": 2}, ProviderContext(tmp_path))

    def _key(self) -> dns.tsig.Key:
        return dns.tsig.Key(self.server.key_name, self.server.secret)

    def write(self, label: str, rtype: str, ttl: int, values: Sequence[str]) -> None:
        upd = dns.update.UpdateMessage(Z, keyring=self._key(), keyname=self.server.key_name)
        upd.replace(label if label not in ("", "@") else "@", ttl, rtype, *values)
        host, port = parse_server(self.address)
        resp = dns.query.tcp(upd, host, port=port, timeout=2)
        assert resp.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(resp.rcode())

    def set_primary_values(self, routed: Sequence[Resource], values: Sequence[str]) -> None:
        """The published answer of a failover name is the one RRset at the name."""
        spec = routed[0].spec
        self.write(spec["fqdn"].removesuffix("." + Z), spec["rtype"], spec["ttl"], values)

    def _zone(self) -> dns.zone.Zone:
        host, port = parse_server(self.address)
        key = self._key()
        return dns.zone.from_xfr(dns.query.xfr(host, Z, port=port, keyring={key.name: key}, keyname=key.name,
                                               relativize=False, lifetime=5), relativize=False)

    def edit_health_check_path(self, old: str, new: str) -> None:
        """The check lives in TXT records of the zone: rewrite each one holding the path."""
        hits = [(n, rds) for n, rds in self._zone().iterate_rdatasets() if old in rds.to_text()]
        assert hits, f"no record holds {old}"
        for name, rds in hits:
            self.write(name.to_text().removesuffix("." + Z), dns.rdatatype.to_text(rds.rdtype), rds.ttl,
                       [rd.to_text().replace(old, new) for rd in rds])

    def raw_foreign(self) -> Any:
        host, port = parse_server(self.address)
        key = self._key()
        zone = dns.zone.from_xfr(dns.query.xfr(host, Z, port=port, keyring={key.name: key}, keyname=key.name,
                                               relativize=False, lifetime=5), relativize=False)
        names = {(fqdn(lb), t) for lb, t, _, _ in FOREIGN}
        return sorted(f"{n} {rds.ttl} {rds.to_text()}" for n, rds in zone.iterate_rdatasets()
                      if (n.to_text(), dns.rdatatype.to_text(rds.rdtype)) in names)
