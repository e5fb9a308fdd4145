"""Interaction replies in the member's language (their Discord ``locale``), through the
simulated gateway: ``/omni status``, ``/omni forget me``, refusals, ``/omni usage``,
``/omni-admin budget`` and ``status``; es-419 falls back to es-ES, a language Omnicord does not
speak to English, and an en-US member keeps the English replies."""

from __future__ import annotations

import asyncio
import time

import discord
import pytest
from omnicord.cogs.delivery.friendly import friendly
from omnicord.i18n import t
from omnicord.policy.budgets import Budget
from omnicord.policy.throttle import Busy, Cooldown
from omnicord.store import Store
from omnicord.store.records import UsageRow

from tests.doubles.fake_discord.rules import EPHEMERAL
from tests.doubles.fake_discord.server import CapturedRequest
from tests.doubles.omnicord_bot import World
from tests.doubles.omnicord_bot import world as world


async def answered(world: World, user: discord.abc.User, command: str, options=None, *,
                   locale: str) -> CapturedRequest:
    """Run a slash command from a member whose Discord speaks ``locale``; its private answer."""
    interaction = world.h.slash(world.channel, user, command, options or {}, locale=locale)
    await world.h.settle(timeout=20)
    (response,) = world.fake.interaction_responses(interaction["token"])
    assert response.ok and response.payload["data"]["flags"] & EPHEMERAL
    return response


def store_of(world: World) -> Store:
    return world.bot._omnicord_runtime.services.store  # type: ignore[attr-defined]


async def test_status_speaks_japanese_to_a_japanese_member(world: World) -> None:
    status = (await answered(world, world.member, "omni status", locale="ja")).content or ""
    lines = status.splitlines()
    assert lines[0] == "**モデル:** qwen3-omni-flash（Omnicord の既定）"
    assert "**思考モード:** オフ" in lines and "**1 日の上限:** なし" in lines
    assert "**このチャンネル:** チャット オフ、自動キャプション オフ" in lines
    assert "**利用範囲:** 全員（すべてのチャンネル）" in lines
    assert any(line.startswith("**あなたのデータ:** Omnicord は回答するメッセージごとに")
               for line in lines)
    assert "**送信先:** " in status and "`/omni forget me`" in status
    assert "**このサーバーのチャンネルでの Omnicord の言語:** English" in lines
    assert "**Model:**" not in status and "Your data" not in status


async def test_forget_me_asks_and_answers_in_japanese(world: World) -> None:
    await world.ask("remember me")
    asked = world.h.slash(world.channel, world.member, "omni forget me", {}, locale="ja")
    await world.h.settle(timeout=20)
    (question,) = world.fake.interaction_responses(asked["token"])
    assert question.payload["data"]["flags"] & EPHEMERAL
    assert (question.content or "").startswith(
        "Omnicord があなたについて保存しているものを、すべてのサーバーと DM から消去します。")
    message_id = int(question.response["resource"]["message"]["id"])
    buttons = [button["label"] for row in world.fake.message(message_id)["components"]
               for button in row["components"]]
    assert buttons == ["消去する", "キャンセル"]

    world.h.press_button(world.channel, world.member, message_id, "消去する", locale="ja")
    await world.h.settle(timeout=20)
    done = world.fake.message(message_id)
    assert done["content"] == ("完了しました。Omnicord はあなたのことを忘れました。"
                               "会話 1 件、設定 0 件、使用量の記録 1 件を消去しました。")
    assert done["components"] == []
    assert await world.turns() == []


async def test_forget_me_cancelled_in_spanish_for_es_419(world: World) -> None:
    asked = world.h.slash(world.channel, world.member, "omni forget me", {}, locale="es-419")
    await world.h.settle(timeout=20)
    (question,) = world.fake.interaction_responses(asked["token"])
    message_id = int(question.response["resource"]["message"]["id"])
    world.h.press_button(world.channel, world.member, message_id, "Cancelar", locale="es-419")
    await world.h.settle(timeout=20)
    assert world.fake.message(message_id)["content"] == "Cancelado: no se ha borrado nada."


async def test_a_member_without_manage_server_is_refused_in_japanese(world: World) -> None:
    refused = await answered(world, world.member, "omni-admin model",
                             {"model": "qwen-omni-turbo"}, locale="ja")
    assert refused.content == "⚠️ これを変更できるのは「サーバー管理」権限を持つメンバーだけです。"
    english = await answered(world, world.member, "omni-admin model",
                             {"model": "qwen-omni-turbo"}, locale="en-US")
    assert english.content == "⚠️ Only members with the Manage Server permission can change this."


async def test_a_refused_setting_is_explained_in_korean(world: World) -> None:
    refused = await answered(world, world.admin, "omni-admin voice", {"voice": "Nobody"},
                             locale="ko")
    explained = refused.content or ""
    assert "에는 'Nobody' 음성이 없어요. 다음 중에서 골라 주세요: Cherry, Ethan" in explained


async def test_usage_numbers_are_written_the_brazilian_way(world: World) -> None:
    await store_of(world).add_usage(UsageRow(
        user_id=str(world.member.id), model="qwen3-omni-flash", prompt_tokens=1234,
        completion_tokens=5678, guild_id=str(world.guild.id)))
    report = (await answered(world, world.member, "omni usage", locale="pt-BR")).content or ""
    assert report.splitlines()[0] == (
        "**Você hoje:** 6.912 tokens (1.234 de entrada, 5.678 de saída), custo desconhecido")
    assert "Custo desconhecido para qwen3-omni-flash: defina `OMNICORD_PRICES=" in report
    english = (await answered(world, world.member, "omni usage", locale="en-US")).content
    assert (english or "").startswith("**You today:** 6,912 tokens (1,234 in, 5,678 out)")


async def test_budgets_answer_in_the_members_language(world: World) -> None:
    budget = await answered(world, world.admin, "omni-admin budget", {"tokens": 12345},
                            locale="es-ES")
    assert budget.content == "Presupuesto mensual (meses UTC): **12.345 tokens**."
    status = (await answered(world, world.admin, "omni-admin status", locale="ja")).content
    lines = (status or "").splitlines()
    assert lines[0].startswith("**") and lines[0].endswith("の予算（UTC）**") and "年" in lines[0]
    assert lines[1] == "サーバー（トークン）: 12,345 トークン のうち 0 トークン（0%）"
    assert "ボット全体: 月間予算なし" in lines


def test_a_spent_budget_names_the_months_in_each_language() -> None:
    spent = Budget("server", "tokens", 1000, 1000).refusal("2026-12")
    assert str(spent) == ("This server has used its Omnicord budget for December "
                          "(1,000 tokens); Omnicord answers again on 1 January (UTC).")
    assert spent.render("ja") == ("このサーバーは12月の Omnicord の予算（1,000 トークン）を"
                                  "使い切りました。1月1日（UTC）から再びお答えします。")
    assert "diciembre" in spent.render("es-ES") and "1 de enero (UTC)" in spent.render("es-ES")
    assert "dezembro" in spent.render("pt-BR") and "1º de janeiro" in spent.render("pt-BR")
    assert "12월" in spent.render("ko") and "1월 1일(UTC)" in spent.render("ko")


async def test_a_cooldown_refusal_in_korean() -> None:
    cooldown = Cooldown(90)
    await cooldown.hit("member")
    try:
        await cooldown.hit("member")
    except Busy as refusal:
        busy = refusal
    else:
        raise AssertionError("the second request came too soon and was not refused")
    assert friendly(busy, language="ko") == "1분 30초 기다린 후에 다시 물어봐 주세요."
    assert friendly(busy) == "Please wait 1 min 30 s before asking again."


async def test_spanish_for_es_419_english_for_french_and_en_us(world: World) -> None:
    latin = (await answered(world, world.member, "omni status", locale="es-419")).content or ""
    assert latin.startswith("**Modelo:** qwen3-omni-flash (el predeterminado de Omnicord)")
    assert "**Tus datos:** por cada mensaje que Omnicord responde" in latin
    for locale in ("fr", "en-US"):
        status = (await answered(world, world.member, "omni status", locale=locale)).content
        assert (status or "").startswith("**Model:** qwen3-omni-flash (Omnicord's default)")
        assert "**Your data:** for each message Omnicord answers" in (status or "")
    assert t("fr", "settings.persona_updated") == "Persona updated."


async def test_autocomplete_and_dm_refusals_speak_the_members_language(world: World) -> None:
    interaction = world.h.autocomplete(world.channel, world.member, "omni me caption-language",
                                       {"language": ""}, focused="language", locale="ja")
    await world.h.settle()
    (response,) = world.fake.interaction_responses(interaction["token"])
    names = {c["value"]: c["name"] for c in response.payload["data"]["choices"]}
    assert names["default"] == "サーバーの既定" and names["none"] == "なし（翻訳しない）"
    assert names["Japanese"] == "日本語 · Japanese"
    typed = world.h.autocomplete(world.channel, world.member, "omni me caption-language",
                                 {"language": "日本"}, focused="language", locale="ja")
    await world.h.settle()
    (response,) = world.fake.interaction_responses(typed["token"])
    assert [(c["name"], c["value"]) for c in response.payload["data"]["choices"]] == [
        ("日本語 · Japanese", "Japanese")]


async def test_a_host_reads_the_data_statement_in_a_language(world: World) -> None:
    from omnicord.cogs.hooks import data_statement

    assert data_statement(world.bot).startswith("**Your data:**")
    assert data_statement(world.bot, "ja").startswith("**あなたのデータ:**")


@pytest.mark.parametrize("trouble", ["hangs", "fails"])
async def test_a_store_that_cannot_keep_the_language_never_holds_up_the_command(
        world: World, trouble: str, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    async def remember_language(user_id: str, language: str) -> None:
        if trouble == "hangs":
            await asyncio.sleep(60)
        raise ConnectionError("the database went away")

    preferences = world.bot._omnicord_runtime.preferences  # type: ignore[attr-defined]
    monkeypatch.setattr(preferences, "remember_language", remember_language)
    began = time.monotonic()
    status = await answered(world, world.member, "omni status", locale="ja")
    assert (status.content or "").startswith("**モデル:**")
    assert time.monotonic() - began < 10  # not the minute the store would have taken
    assert "could not keep a member's Discord language" in caplog.text


@pytest.mark.parametrize("locale", ["en-US", "ja", "zh-CN", "zh-TW", "ko", "es-ES", "pt-BR"])
async def test_status_and_the_data_statement_fit_in_every_language(world: World,
                                                                   locale: str) -> None:
    """The longest status a member can see (a chat channel, long allow lists, the longest
    persona) reaches them whole in every language, in messages Discord accepts (2,000
    characters at most): allow lists name ten of each and count the rest, the persona shows
    its start, and what is left over goes in a second message. The data statement a host may
    post stays within 1,200 characters."""
    from omnicord.cogs.hooks import data_statement

    preferences = world.bot._omnicord_runtime.preferences  # type: ignore[attr-defined]
    guild = str(world.guild.id)
    for n in range(40):
        await preferences.set_access(guild, "role", str(10**18 + n), True)
        await preferences.set_access(guild, "channel", str(2 * 10**18 + n), True)
    await preferences.set_access(guild, "channel", str(world.channel.id), True)
    for command, options in (("omni-admin chat-channel", {"enabled": True}),
                             ("omni-admin persona", {"prompt": "x" * 1500})):
        world.h.slash(world.channel, world.admin, command, options)
        await world.h.settle()
    asked = world.h.slash(world.channel, world.admin, "omni status", {}, locale=locale)
    await world.h.settle(timeout=20)
    sent = [r.content or "" for r in (*world.fake.interaction_responses(asked["token"]),
                                      *world.fake.followups(asked["token"]))]
    assert all(0 < len(piece) <= 2000 for piece in sent)
    status = "\n".join(sent)
    assert status.startswith(t(locale, "settings.status.model", model="qwen3-omni-flash",
                               source="")[:8]) and "/omni forget me" in status
    assert "(+30)" in status and "(+31)" in status  # 40 roles, 41 channels: ten of each named
    assert "xxxxxxxxxx" in status and "…" in status  # the persona's start, cut
    assert len(data_statement(world.bot, locale)) < 1200
