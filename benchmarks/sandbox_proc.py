"""The Codat sandbox in its own process: Codat is a remote service, so its CPU must not
share the GIL of the core under test.

    python -m benchmarks.sandbox_proc '{"latency": 0.05}'

prints one JSON line (base_url, api_key, company_id, connection_id) and serves until
its stdin closes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

import httpx


@dataclass
class RemoteSandbox:
    process: subprocess.Popen
    base_url: str
    api_key: str
    company_id: str
    connection_id: str

    @classmethod
    def start(cls, config: dict, env: dict[str, str] | None = None) -> RemoteSandbox:
        process = subprocess.Popen([sys.executable, "-m", "benchmarks.sandbox_proc", json.dumps(config)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        line = process.stdout.readline()
        if not line:
            process.kill()
            raise RuntimeError("the sandbox process did not start")
        info = json.loads(line)
        return cls(process, info["base_url"], info["api_key"], info["company_id"], info["connection_id"])

    def steer(self, method: str, path: str, **kwargs) -> httpx.Response:
        response = httpx.request(method, self.base_url + path, timeout=60, **kwargs)
        response.raise_for_status()
        return response

    def consumer_secret(self, consumer_id: str) -> str:
        return self.steer("GET", f"/_sandbox/webhooks/{consumer_id}/secret").json()["secret"]

    def wait_idle(self, timeout: float = 60) -> bool:
        return bool(self.steer("POST", f"/_sandbox/wait-idle?timeout={timeout}").json()["idle"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def main() -> None:
    from codatdesk.sandbox import Sandbox, SandboxConfig, SandboxServer

    sandbox = Sandbox(SandboxConfig(**json.loads(sys.argv[1] if len(sys.argv) > 1 else "{}")))
    server = SandboxServer(sandbox, port=0).start()
    print(json.dumps({"base_url": server.base_url, "api_key": sandbox.api_key,
                      "company_id": sandbox.company_id, "connection_id": sandbox.connection_id}), flush=True)
    try:
        sys.stdin.read()  # until the parent closes our stdin (or dies)
    finally:
        server.stop()
        sandbox.shutdown()


if __name__ == "__main__":
    main()
