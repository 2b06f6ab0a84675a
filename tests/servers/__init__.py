"""Real servers (BIND 9, PowerDNS, moto) started on 127.0.0.1 as child processes, for tests and benches."""
