"""Reader configurations from the admin API, assigned to a location; connection tokens by scope."""

from __future__ import annotations

import asyncio
import json

from typer.testing import CliRunner, Result

from countertop.cli import app
from countertop.emulator.server import EmulatorServer
from tests.backend.stack import ADMIN, Backend, Stripe

CONFIG = {
    "name": "Cafe evenings",
    "reboot_window": {"start_hour": 2, "end_hour": 4},
    "tipping": {
        "usd": {"percentages": [15, 18, 20], "smart_tip_threshold": 1000},
        "cad": {"fixed_amounts": [100, 200, 300]},
    },
    "splashscreen": "file_1Splash",
}


async def test_admin_creates_changes_assigns_and_deletes_a_configuration(
    backend: Backend, stripe_api: Stripe
) -> None:
    location = backend.demo.location_id
    async with backend.client(ADMIN) as admin:
        created = await admin.post("/api/reader-configurations", json=CONFIG)
        assert created.status_code == 201, created.text
        config = created.json()
        assert config["id"].startswith("tmc_")
        assert config["reboot_window"] == {"start_hour": 2, "end_hour": 4}
        assert config["tipping"]["usd"]["percentages"] == [15, 18, 20]
        assert config["tipping"]["cad"]["fixed_amounts"] == [100, 200, 300]
        assert config["splashscreen"] == "file_1Splash"

        on_stripe = (
            await stripe_api.http.get(f"/v1/terminal/configurations/{config['id']}")
        ).json()
        assert on_stripe["stripe_s700"]["splashscreen"] == "file_1Splash"
        assert on_stripe["bbpos_wisepos_e"]["splashscreen"] == "file_1Splash"
        assert on_stripe["tipping"]["usd"]["smart_tip_threshold"] == 1000

        changed = await admin.patch(
            f"/api/reader-configurations/{config['id']}",
            json={"reboot_window": {"start_hour": 3, "end_hour": 5}},
        )
        assert changed.status_code == 200 and changed.json()["reboot_window"]["start_hour"] == 3
        assert changed.json()["tipping"]["usd"]["percentages"] == [15, 18, 20]  # untouched

        listed = (await admin.get("/api/reader-configurations")).json()["data"]
        assert config["id"] in [c["id"] for c in listed]

        assigned = await admin.put(
            f"/api/locations/{location}/configuration", json={"configuration": config["id"]}
        )
        assert assigned.status_code == 200, assigned.text
        assert assigned.json() == {"location": location, "configuration": config["id"]}
        loc = (await stripe_api.http.get(f"/v1/terminal/locations/{location}")).json()
        assert loc["configuration_overrides"] == config["id"]

        reset = await admin.put(
            f"/api/locations/{location}/configuration", json={"configuration": None}
        )
        assert reset.json()["configuration"] is None

        gone = await admin.delete(f"/api/reader-configurations/{config['id']}")
        assert gone.status_code == 204
        missing = await admin.patch(
            f"/api/reader-configurations/{config['id']}", json={"name": "x"}
        )
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"


async def test_configuration_input_is_checked(backend: Backend) -> None:
    async with backend.client(ADMIN) as admin:
        for bad in (
            {"reboot_window": {"start_hour": 25, "end_hour": 4}},
            {"tipping": {"USD": {"percentages": [10]}}},
            {"tipping": {"usd": {"percentages": [10, 15, 20, 25]}}},
            {"tipping": {"usd": {"fixed_amounts": [-100]}}},
            {"splashscreen": "http://example.com/logo.png"},
            {"wifi": {"type": "open"}},
        ):
            refused = await admin.post("/api/reader-configurations", json=bad)
            assert refused.status_code == 400, (bad, refused.text)
            assert refused.json()["code"] == "validation_error"
        unknown = await admin.put(
            f"/api/locations/{backend.demo.location_id}/configuration",
            json={"configuration": "tmc_nothere"},
        )
        assert unknown.status_code == 404, unknown.text
    async with backend.client() as operator:
        assert (await operator.post("/api/reader-configurations", json=CONFIG)).status_code == 403
        assert (await operator.get("/api/reader-configurations")).status_code == 403


async def test_connection_token_is_scoped_to_the_callers_location(backend: Backend) -> None:
    location = backend.demo.location_id
    async with backend.client() as operator:
        own = await operator.post("/api/connection-tokens", json={})
        assert own.status_code == 201, own.text
        assert own.json()["location"] == location and own.json()["secret"].startswith("pst_test_")
        other = await operator.post("/api/connection-tokens", json={"location": "tml_elsewhere"})
        assert other.status_code == 403 and other.json()["code"] == "forbidden_location"
    async with backend.client(ADMIN) as admin:
        unnamed = await admin.post("/api/connection-tokens", json={})
        assert unnamed.status_code == 400
        named = await admin.post("/api/connection-tokens", json={"location": location})
        assert named.status_code == 201 and named.json()["location"] == location
    async with backend.client("nobody") as stranger:
        assert (await stranger.post("/api/connection-tokens", json={})).status_code == 401


async def test_command_line_creates_assigns_and_deletes(
    emulator: EmulatorServer, stripe_api: Stripe
) -> None:
    location = (
        await stripe_api.http.post(
            "/v1/terminal/locations",
            data={
                "display_name": "Mission St",
                "address[line1]": "1 Main",
                "address[city]": "SF",
                "address[state]": "CA",
                "address[postal_code]": "94110",
                "address[country]": "US",
            },
        )
    ).json()["id"]
    env = {"STRIPE_SECRET_KEY": emulator.secret_key, "STRIPE_API_BASE": emulator.url}

    def countertop(*args: str) -> Result:
        return CliRunner().invoke(app, ["configurations", *args], env=env)

    made = await asyncio.to_thread(
        countertop,
        "create",
        "--name",
        "Evenings",
        "--reboot-window",
        "2-4",
        "--tip",
        "usd:15%,18%,20%",
        "--tip",
        "cad:100,200,300",
    )
    assert made.exit_code == 0, made.output
    listed = await asyncio.to_thread(countertop, "list", "--format", "json")
    [config] = json.loads(listed.stdout)
    assert config["name"] == "Evenings" and config["reboot_window"] == {
        "start_hour": 2,
        "end_hour": 4,
    }
    assert config["tipping"] == {
        "usd": {"percentages": [15, 18, 20]},
        "cad": {"fixed_amounts": [100, 200, 300]},
    }

    assigned = await asyncio.to_thread(countertop, "assign", config["id"], "--location", location)
    assert assigned.exit_code == 0, assigned.output
    loc = (await stripe_api.http.get(f"/v1/terminal/locations/{location}")).json()
    assert loc["configuration_overrides"] == config["id"]

    assert (await asyncio.to_thread(countertop, "delete", config["id"])).exit_code == 0
    again = await asyncio.to_thread(countertop, "delete", config["id"])
    assert again.exit_code == 1 and "No such configuration" in again.output


def test_command_line_refuses_bad_presets() -> None:
    runner = CliRunner()
    env = {"STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_API_BASE": "http://127.0.0.1:9"}
    for args in (
        ["--tip", "usd"],
        ["--tip", "usd:ten"],
        ["--reboot-window", "late"],
        ["--reboot-window", "2-30"],
    ):
        result = runner.invoke(app, ["configurations", "create", *args], env=env)
        assert result.exit_code == 2, (args, result.output)
