"""/account and /admin/users in a real headless Chromium, used as the people they serve would.

Cast: "boss" administers the whole district 330203; "towner" administers 第1镇
(330203101) only; "worker" is a grid worker of a micro-grid in 第1镇; "farworker" is a grid
worker in 第2镇 (330203102), which towner must not see. Tests share one server, so each one
makes or touches its own accounts and tokens.
"""

from __future__ import annotations

import re

import pytest
from browser import ARTIFACTS, chromium_page, live_server, require_browser, sign_in
from builders import PASSWORD, lattice_tree

PEOPLE = (
    ("boss", "admin", "330203"),
    ("towner", "admin", "330203101"),
    ("worker", "grid_worker", "330203101201001"),
    ("farworker", "grid_worker", "330203102201001"),
    ("changer", "liaison", "330203101201"),
    ("forgetful", "liaison", "330203101202"),
    ("stale", "liaison", "330203101201"),
    ("phoneman", "grid_worker", "330203101201002"),
)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    require_browser()
    ARTIFACTS.mkdir(exist_ok=True)
    with live_server(tmp_path_factory.mktemp("accounts"), lattice_tree(), PEOPLE) as url:
        yield url


def user_path(page, base_url: str, username: str) -> str:
    """The detail page of `username`, found through the list as an admin would."""
    page.goto(f"{base_url}/admin/users?q={username}")
    return page.locator(f"tr[data-username='{username}'] a").get_attribute("href")


def submit(page, selector: str):  # type: ignore[no-untyped-def]
    """Click a submit button and return the response to the form's POST."""
    with page.expect_navigation(), page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click(selector)
    return posted.value


def test_an_admin_creates_a_user_with_a_role_and_finds_them_in_the_list(base_url):
    with chromium_page() as page:
        sign_in(page, base_url, "boss", then="/admin/users")
        assert page.locator(".topbar a[href='/admin/users']").count() == 1
        form = page.locator("#create-user form")
        form.locator("input[name=username]").fill("xiaowang")
        form.locator("input[name=display_name]").fill("王小明")
        form.locator("input[name=home_region]").fill("330203101201")
        form.locator("input[name=phone]").fill("13800138000")
        form.locator("input[name=password]").fill("start-here-1")
        form.locator("select[name=role]").select_option("village_cadre")
        response = submit(page, "#create-user button[type=submit]")
        assert response.status == 303
        assert re.search(r"/admin/users/\d+\?done=created$", page.url)
        assert page.inner_text(".notice") == "用户已创建。"
        assert "村(社)干部" in page.inner_text("#roles")

        page.goto(f"{base_url}/admin/users")
        row = page.locator("tr[data-username='xiaowang']")
        assert row.count() == 1
        text = row.inner_text()
        assert "王小明" in text and "138****8000" in text and "村(社)干部" in text and "正常" in text
        assert "13800138000" not in page.content()
        page.screenshot(path=str(ARTIFACTS / "admin-users.png"), full_page=True)

        # Searching by name and filtering by role both keep the new user in view.
        page.fill("input[name=q]", "小明")
        page.select_option(".filters select[name=role]", "village_cadre")
        page.click(".filters button")
        page.wait_for_url("**/admin/users?q=*")
        assert page.locator("tbody tr").count() == 1
        assert page.inner_text("#users-total").startswith("共 1 人")
        page.select_option(".filters select[name=role]", "mediator")
        page.click(".filters button")
        page.wait_for_url("**role=mediator*")
        assert page.locator("tr[data-username='xiaowang']").count() == 0


def test_a_failed_create_shows_the_reason_and_keeps_what_was_typed(base_url):
    with chromium_page() as page:
        sign_in(page, base_url, "boss", then="/admin/users")
        form = page.locator("#create-user form")
        form.locator("input[name=username]").fill("worker")  # taken
        form.locator("input[name=display_name]").fill("重名的人")
        form.locator("input[name=home_region]").fill("330203101")
        form.locator("input[name=password]").fill("start-here-1")
        form.locator("select[name=role]").select_option("mediator")
        response = submit(page, "#create-user button[type=submit]")
        assert response.status == 409
        assert page.inner_text("#create-user .alert") == "用户名 worker 已被使用"
        assert form.locator("input[name=display_name]").input_value() == "重名的人"
        assert form.locator("input[name=home_region]").input_value() == "330203101"
        assert form.locator("select[name=role]").input_value() == "mediator"

        # A role in a scope the new user cannot hold undoes the whole create, not half of it.
        form.locator("input[name=username]").fill("halfdone")
        form.locator("input[name=password]").fill("start-here-1")
        form.locator("input[name=scope]").fill("999999")
        response = submit(page, "#create-user button[type=submit]")
        assert response.status == 404
        assert "区域 999999 不存在或不在您的管辖范围内" in page.inner_text("#create-user .alert")
        page.goto(f"{base_url}/admin/users?q=halfdone")
        assert page.locator("tr[data-username='halfdone']").count() == 0


def test_an_admin_reveals_a_phone_and_manages_roles_on_the_user_page(base_url):
    with chromium_page() as page:
        sign_in(page, base_url, "boss", then="/admin/users")
        form = page.locator("#create-user form")
        form.locator("input[name=username]").fill("lihua")
        form.locator("input[name=display_name]").fill("李华")
        form.locator("input[name=home_region]").fill("330203102")
        form.locator("input[name=phone]").fill("13912345678")
        form.locator("input[name=password]").fill("start-here-1")
        submit(page, "#create-user button[type=submit]")
        assert "暂无角色" in page.inner_text("#roles")
        assert "139****5678" in page.inner_text("#details")

        page.select_option("#assign-form select[name=role]", "dispatcher")
        assert page.input_value("#assign-form input[name=region]") == "330203102"
        submit(page, "#assign-form button[type=submit]")
        assert page.inner_text(".notice") == "角色已分配。"
        assert "派遣员" in page.inner_text("#roles .assignments")

        response = submit(page, "#details form button")
        assert response.status == 200
        assert page.inner_text("#phone-full") == "13912345678"
        trail = page.request.get(f"{base_url}/api/v1/audit?action=personal.reveal").json()["items"]
        assert [e["target_id"] for e in trail] == [page.url.split("/")[-2]]
        page.screenshot(path=str(ARTIFACTS / "admin-user.png"), full_page=True)

        submit(page, "#roles .assignments button")
        assert page.inner_text(".notice") == "角色分配已撤销。"
        assert page.locator("#roles .assignments").count() == 0

        page.fill("#reset input[name=new_password]", "short")
        page.eval_on_selector("#reset form", "f => f.noValidate = true")  # let the server judge it
        response = submit(page, "#reset button[type=submit]")
        assert response.status == 422
        assert page.inner_text("#reset .alert") == "密码长度应为 8–128 个字符"


def test_a_town_admin_does_not_see_a_user_of_the_other_town(base_url):
    with chromium_page() as page:
        sign_in(page, base_url, "boss", then="/admin/users")
        far = user_path(page, base_url, "farworker")
        near = user_path(page, base_url, "worker")

        sign_in(page, base_url, "towner", then="/admin/users")
        listed = page.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.username)")
        assert "worker" in listed and "towner" in listed
        assert "farworker" not in listed and "boss" not in listed

        response = page.goto(base_url + far)
        assert response.status == 404
        assert "用户不存在或不在您的管辖范围内" in page.inner_text(".alert")
        assert page.goto(base_url + near).status == 200
        assert page.inner_text("h1").startswith("grid_worker@")


def test_a_grid_worker_gets_the_403_page_for_user_admin(base_url):
    with chromium_page() as page:
        sign_in(page, base_url, "worker")
        assert page.locator(".topbar a[href='/admin/users']").count() == 0  # no menu he cannot use
        response = page.goto(f"{base_url}/admin/users")
        assert response.status == 403
        assert page.inner_text("h1") == "403"
        assert page.inner_text(".alert") == "您无权执行“查看用户”操作"


def test_a_token_is_shown_once_then_listed_as_active_and_revoked(base_url):
    with chromium_page() as page:
        sign_in(page, base_url, "worker", then="/account")
        page.fill("#token-form input[name=name]", "数据对接")
        page.fill("#token-form input[name=days]", "30")
        response = submit(page, "#token-form button[type=submit]")
        assert response.status == 200
        assert response.headers["cache-control"] == "no-store"
        assert "此令牌只显示一次，请立即保存" in page.inner_text("#new-token-card")
        raw = page.input_value("#new-token")
        assert raw.startswith("sz_") and len(raw) > 30
        page.click("#copy-token")
        page.wait_for_function("document.getElementById('copy-token').textContent !== '复制'")
        page.screenshot(path=str(ARTIFACTS / "account.png"), full_page=True)

        # The token works for the API, and is scoped to the worker's micro-grid.
        me = page.request.get(f"{base_url}/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
        assert me.ok and me.json()["token_scope"] == "330203101201001"

        page.goto(f"{base_url}/account")
        assert page.locator("#new-token").count() == 0
        assert raw not in page.content()
        row = page.locator("#tokens tbody tr", has_text="数据对接")
        assert raw[:10] in row.inner_text()
        assert row.locator(".status").inner_text() == "有效"

        submit(page, "#tokens tbody tr:has-text('数据对接') button")
        assert page.inner_text(".notice").startswith("令牌已撤销")
        row = page.locator("#tokens tbody tr", has_text="数据对接")
        assert row.locator(".status").inner_text() == "已撤销"
        assert row.locator("button").count() == 0
        refused = page.request.get(f"{base_url}/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
        assert refused.status == 401


def test_a_wrong_current_password_is_refused_in_chinese(base_url):
    with chromium_page() as page:
        sign_in(page, base_url, "forgetful", then="/account")
        page.fill("#password input[name=current_password]", "not-my-password-1")
        page.fill("#password input[name=new_password]", "brand-new-pass-2")
        page.fill("#password input[name=repeat_password]", "brand-new-pass-2")
        response = submit(page, "#password button[type=submit]")
        assert response.status == 401
        assert page.inner_text("#password .alert") == "当前密码不正确"

        page.fill("#password input[name=current_password]", PASSWORD)
        page.fill("#password input[name=new_password]", "brand-new-pass-2")
        page.fill("#password input[name=repeat_password]", "brand-new-pass-3")
        response = submit(page, "#password button[type=submit]")
        assert response.status == 422
        assert page.inner_text("#password .alert") == "两次输入的新密码不一致"
        # Nothing changed: still signed in, and the old password still works.
        sign_in(page, base_url, "forgetful", then="/account")


def test_changing_the_password_signs_out_everywhere_and_the_new_one_works(base_url):
    with chromium_page() as page:
        sign_in(page, base_url, "changer", then="/account")
        page.fill("#password input[name=current_password]", PASSWORD)
        page.fill("#password input[name=new_password]", "changed-pass-42")
        page.fill("#password input[name=repeat_password]", "changed-pass-42")
        submit(page, "#password button[type=submit]")
        assert "/login?" in page.url and "notice=password_changed" in page.url
        assert page.inner_text(".notice") == "密码已修改，请用新密码重新登录。"
        page.goto(f"{base_url}/account")
        assert "/login?next=" in page.url  # the old session is gone
        sign_in(page, base_url, "changer", password="changed-pass-42", then="/account")
        assert page.inner_text("#profile").count("changer") == 1


def test_a_post_without_the_csrf_field_is_refused(base_url):
    with chromium_page() as page:
        sign_in(page, base_url, "boss", then="/account")
        response = page.request.post(f"{base_url}/account/tokens", form={"name": "偷偷建的", "days": "5"})
        assert response.status == 403
        assert "表单已过期或来源不可信" in response.text()

        # The same from inside the page with fetch(), as a script on the page would.
        status, body = page.evaluate("""async () => {
            const r = await fetch('/admin/users', {method: 'POST', body: new URLSearchParams({
                username: 'sneaky', display_name: '偷偷', home_region: '330203', password: 'abc-12345'})});
            return [r.status, await r.text()];
        }""")
        assert status == 403 and "表单已过期或来源不可信" in body

        page.goto(f"{base_url}/account")
        assert "偷偷建的" not in page.inner_text("#tokens")
        page.goto(f"{base_url}/admin/users?q=sneaky")
        assert page.locator("tbody tr").count() == 0


def test_a_stale_disable_form_gets_the_conflict_message(base_url):
    with chromium_page() as page:
        sign_in(page, base_url, "boss", then="/admin/users")
        path = user_path(page, base_url, "stale")
        page.goto(base_url + path)
        # Meanwhile another admin (here: the same browser, behind the page's back) changes the user.
        csrf = page.input_value("#assign-form input[name=csrf_token]")
        meanwhile = page.request.post(f"{base_url}{path}/assignments", max_redirects=0,
                                      form={"csrf_token": csrf, "role": "mediator", "region": "330203101201"})
        assert meanwhile.status == 303

        response = submit(page, "#status button[type=submit]")
        assert response.status == 409
        assert page.inner_text("#status .alert") == "该用户已被他人修改，请刷新后重试"
        # The page came back with the current version: the same click now works.
        submit(page, "#status button[type=submit]")
        assert page.inner_text(".notice").startswith("账号已停用")
        assert "已停用" in page.inner_text("h1")
        submit(page, "#status button[type=submit]")
        assert page.inner_text(".notice") == "账号已启用。"


def test_the_account_page_fits_a_phone_screen(base_url):
    with chromium_page(width=360, height=740) as page:
        sign_in(page, base_url, "phoneman", then="/account")
        page.fill("#token-form input[name=name]", "手机上建的令牌")
        submit(page, "#token-form button[type=submit]")
        page.goto(f"{base_url}/account")
        assert page.locator("#tokens tbody tr").count() == 1
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.screenshot(path=str(ARTIFACTS / "account-phone.png"), full_page=True)

        sign_in(page, base_url, "boss", then="/admin/users")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.goto(base_url + user_path(page, base_url, "worker"))
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.screenshot(path=str(ARTIFACTS / "admin-user-phone.png"), full_page=True)
