"""`shanzhi users …`: account administration from the server's shell.

Whoever runs these commands can read the database anyway, so they act as an administrator of
every root region (`system_actor`); the same service rules and audit rows apply.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from shanzhi.accounts import service
from shanzhi.db import session_scope
from shanzhi.terminal import console, errors

app = typer.Typer(help="用户与角色：新建、分配、停用、重置密码、列表。Users and roles.", no_args_is_help=True)

Password = Annotated[
    str, typer.Option(prompt="密码 password", hide_input=True, confirmation_prompt=True,
                      help="至少 8 位，含字母和数字；不给出则提示输入")
]


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="登录名 login name")],
    name: Annotated[str, typer.Option("--name", help="姓名 display name")],
    region: Annotated[str, typer.Option(help="所属区域编码 home region code")],
    password: Password,
    role: Annotated[str | None, typer.Option(help="同时分配的角色 a role to assign now")] = None,
    scope: Annotated[str | None, typer.Option(help="角色范围（默认为所属区域）scope code")] = None,
    org: Annotated[str | None, typer.Option(help="处置单位编码（handler）organization code")] = None,
    phone: Annotated[str | None, typer.Option(help="手机号（加密保存）")] = None,
) -> None:
    """新建用户。Create a user (optionally with a role)."""
    with errors(), session_scope() as session:
        actor = service.system_actor(session)
        user = service.create_user(session, actor=actor, username=username, display_name=name,
                                   password=password, home_region=region, phone=phone)
        if role:
            service.assign_role(session, actor=actor, user_id=user.id, role=role, region=scope or region,
                                org_code=org)
    console.print(f"已新建用户 created: [bold]{username}[/]")


@app.command("assign")
def assign(
    username: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Argument(help="resident|grid_worker|…|admin")],
    scope: Annotated[str, typer.Argument(help="范围区域编码 scope region code")],
    org: Annotated[str | None, typer.Option(help="处置单位编码 organization code")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="撤销该分配 remove it instead")] = False,
) -> None:
    """分配（或撤销）角色与范围。Assign (or remove) a role within a scope."""
    with errors(), session_scope() as session:
        actor = service.system_actor(session)
        user = service.find_user(session, username=username)
        if remove:
            for a, r in service.view(session, user).assignments:
                if a.role == role and r.code == scope:
                    service.remove_assignment(session, actor=actor, user_id=user.id, assignment_id=a.id)
        else:
            service.assign_role(session, actor=actor, user_id=user.id, role=role, region=scope, org_code=org)
    console.print(f"{'已撤销' if remove else '已分配'} {username}: {role} @ {scope}")


@app.command("disable")
def disable(
    username: Annotated[str, typer.Argument()],
    enable: Annotated[bool, typer.Option("--enable", help="重新启用 enable instead")] = False,
) -> None:
    """停用（或启用）用户，并结束其所有会话。Disable (or enable) a user."""
    with errors(), session_scope() as session:
        user = service.find_user(session, username=username)
        service.set_active(session, actor=service.system_actor(session), user_id=user.id, active=enable)
    console.print(f"{'已启用' if enable else '已停用'} {username}")


@app.command("reset-password")
def reset_password(username: Annotated[str, typer.Argument()], password: Password) -> None:
    """重置密码（结束其所有会话）。Reset a password."""
    with errors(), session_scope() as session:
        user = service.find_user(session, username=username)
        service.reset_password(session, actor=service.system_actor(session), user_id=user.id,
                               new_password=password)
    console.print(f"已重置 {username} 的密码")


@app.command("list")
def list_users(
    q: Annotated[str | None, typer.Option(help="按登录名或姓名查找")] = None,
    role: Annotated[str | None, typer.Option(help="按角色筛选")] = None,
) -> None:
    """列出用户（电话已脱敏）。List users (phones masked)."""
    table = Table()
    for col in ("ID", "登录名", "姓名", "电话", "所属区域", "角色", "状态"):
        table.add_column(col, overflow="fold")
    with errors(), session_scope() as session:
        users, total = service.list_users(session, actor=service.system_actor(session), q=q, role=role, size=500)
        for v in service.views(session, users):
            d = v.as_dict()
            roles = "\n".join(f"{a['role_label']}@{a['region']['name']}" for a in d["assignments"]) or "—"
            table.add_row(str(d["id"]), d["username"], d["display_name"], d["phone"] or "—",
                          d["home_region"]["name"], roles, "启用" if d["is_active"] else "停用")
    console.print(table)
    console.print(f"共 {total} 个用户")
