"""Browser tests (headless Chromium, a real ``otter-run manager``) of the config pages: an ADMIN builds a
channel from data sources, a pipeline and a pair, sees it as the YAML ``otter-run run`` reads, and gets
problems shown beside the field at fault."""

from __future__ import annotations

import re

import yaml
from web_steps import flash_text, log_in, submit_form

from otter_core.config import load_config_text

SECRET = "s3cret-Pw!"


def status_of(page, action) -> int:
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        action()
    return answer.value.status


def test_an_admin_builds_a_channel_and_exports_it_as_yaml(browser_page, screenshots, monkeypatch):
    page = browser_page
    log_in(page)
    page.goto("/sources")
    for name, port in (("shop-a", "3311"), ("shop-b", "3312")):
        submit_form(
            page,
            "source-form",
            {
                "name": name,
                "type": "mysql",
                "host": "127.0.0.1",
                "port": port,
                "user": "otter",
                "password": SECRET,
                "options": "{}",
            },
        )
        assert f"source {name} created" in flash_text(page)
    assert SECRET not in page.content()
    assert "set" in page.inner_text("tr[data-name=shop-a]")
    page.click("tr[data-name=shop-a] a:has-text('shop-a')")  # edit: a new port, the password left empty
    assert page.input_value("#f-password") == "" and "leave empty to keep it" in page.inner_text("main")
    with page.expect_navigation():
        page.fill("#f-port", "3313")
        page.click("button:has-text('Save')")
    assert "source shop-a saved" in flash_text(page)
    row = page.inner_text("tr[data-name=shop-a]")
    assert "127.0.0.1:3313" in row and "set" in row  # the stored password was kept

    page.goto("/media")
    submit_form(page, "media-form", {"source_id": "shop-b", "schema": "shop", "name": "offer[1-4]"})
    assert "media shop.offer[1-4] created" in flash_text(page)
    with page.expect_navigation():
        page.click("[data-testid=media] tr:has-text('offer[1-4]') button:has-text('Delete')")
    assert "offer[1-4]" not in page.inner_text("main")

    page.goto("/channels")
    submit_form(page, "channel-form", {"name": "shop", "description": "orders from A to B"})
    assert "channel shop created" in flash_text(page)
    assert page.url.endswith("/pipelines?channel_id=1")  # led on to the channel's first pipeline
    submit_form(
        page,
        "pipeline-form",
        {
            "channel_id": "shop",
            "name": "a-to-b",
            "source_id": "shop-a",
            "target_id": "shop-b",
            "start": "current",
            "parameters": "batch_size: 500\nparallelism: 2",
        },
    )
    assert "pipeline a-to-b created" in flash_text(page)
    submit_form(
        page,
        "pair-form",
        {
            "source": "shop.orders",
            "target": "shop.orders_copy",
            "columns": "{id: id, item: item_name, qty: qty}",
            "column_groups": "[[item, qty]]",
            "push_weight": "3",
        },
    )
    assert "pair shop.orders → shop.orders_copy added" in flash_text(page)
    pairs = page.inner_text("[data-testid=pairs]")
    assert "shop.orders" in pairs and "shop-b:shop.orders_copy" in pairs and "item_name" in pairs

    # Saving the pipeline and a pair again through their edit forms keeps what they hold
    with page.expect_navigation():
        page.click("button:has-text('Save pipeline')")
    assert "pipeline a-to-b saved" in flash_text(page)
    page.click("[data-testid=pairs] a:has-text('Edit')")
    assert page.input_value("#f-columns") == "id: id\nitem: item_name\nqty: qty"
    submit_form(page, "pair-form", {"push_weight": "7"})
    assert "pair saved" in flash_text(page)
    assert "7" in page.inner_text("[data-testid=pairs] td.num")

    page.goto("/yaml")
    exported = page.inner_text("[data-testid=exported]")
    assert SECRET not in exported
    document = yaml.safe_load(exported)
    pipeline = document["channels"][0]["pipelines"][0]
    assert (pipeline["source"], pipeline["target"]) == ("shop-a", "shop-b")
    assert pipeline["parameters"] == {"batch_size": 500, "parallelism": 2}
    assert pipeline["pairs"][0]["column_groups"] == [["item", "qty"]]
    assert pipeline["pairs"][0]["push_weight"] == 7
    assert pipeline["pairs"][0]["columns"] == {"id": "id", "item": "item_name", "qty": "qty"}
    assert document["sources"]["shop-a"]["password_env"] == "OTTER_PASSWORD_SHOP_A"  # not the password
    monkeypatch.setenv("OTTER_PASSWORD_SHOP_A", SECRET)
    monkeypatch.setenv("OTTER_PASSWORD_SHOP_B", SECRET)
    config = load_config_text(exported, "exported")  # what otter-run run reads
    assert config.channels[0].name == "shop"
    screenshots(page, "yaml")

    page.goto("/pairs")
    assert "shop.orders" in page.inner_text("main")
    page.goto("/audit")
    audit = page.inner_text("[data-testid=audit]")
    for created in ("source shop-a", "channel shop", "pipeline shop/a-to-b", "pair shop/a-to-b:shop.orders"):
        assert created in audit
    assert SECRET not in page.content()
    screenshots(page, "audit")


def test_bad_input_is_shown_beside_the_field_with_a_4xx(browser_page):
    page = browser_page
    log_in(page)
    page.goto("/sources")
    assert status_of(page, lambda: submit_form(page, "source-form", {"name": "bad name!"})) == 422
    assert "letters, digits" in page.inner_text("label:has(#f-name)")
    assert (
        status_of(page, lambda: submit_form(page, "source-form", {"name": "opts", "options": "[unclosed"}))
        == 422
    )
    assert "not valid YAML" in page.inner_text("label:has(#f-options)")
    assert status_of(page, lambda: submit_form(page, "source-form", {"name": "shop-a", "options": ""})) == 409
    assert "exists already" in flash_text(page)

    page.goto("/pipelines")
    assert (
        status_of(
            page,
            lambda: submit_form(
                page,
                "pipeline-form",
                {
                    "channel_id": "shop",
                    "name": "second",
                    "source_id": "shop-a",
                    "target_id": "shop-b",
                    "parameters": "batch_size: lots",
                },
            ),
        )
        == 422
    )
    assert "batch_size" in page.inner_text("[data-testid=pipeline-form]")
    page.goto("/pipelines/1")
    assert (
        status_of(
            page,
            lambda: submit_form(
                page, "pair-form", {"source": "shop.orders", "processors": "no-such-processor"}
            ),
        )
        == 422
    )
    assert "no-such-processor" in page.inner_text("[data-testid=pair-form]")
    page.goto("/pipelines/999")
    assert "pipeline 999 does not exist" in page.inner_text("[data-testid=error]")
    page.goto("/yaml")
    bad = "sources:\n  a: {type: mysql}\nchannels:\n  - name: x\n    pipelines: 7\n"
    assert status_of(page, lambda: submit_form(page, "yaml-form", {"yaml": bad})) == 422
    problem = page.inner_text("label:has(#f-yaml) .hint")
    assert re.search(r"import\.yaml:[45]\b", problem) and "pipelines" in problem, problem
    assert page.input_value("#f-yaml") == bad.strip()  # kept for fixing
