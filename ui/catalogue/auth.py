"""Text of the login form, the wall token, roles, refusals and the account box."""

STRINGS: dict[str, tuple[str, str]] = {
    "auth.title": ("登录网格一张图", "Sign in to GridMap"),
    "auth.username": ("账号", "Account"),
    "auth.password": ("密码", "Password"),
    "auth.submit": ("登录", "Sign in"),
    "auth.oidc": ("使用单位统一身份登录", "Sign in with the organisation's identity"),
    "auth.oidc_unmapped": ("统一身份 {email} 没有对应的网格一张图账号，请联系管理员。",
                           "The identity {email} has no GridMap account; ask an admin."),
    "auth.failed": ("账号或密码不正确。", "Wrong account or password."),
    "auth.session_ended": ("登录已结束（已在别处退出、改了密码或被管理员结束），请重新登录。",
                           "Your session has ended (signed out elsewhere, password changed "
                           "or ended by an admin); please sign in again."),
    "auth.throttled": ("登录失败次数过多，请 {seconds} 秒后再试。",
                       "Too many failed sign-ins; try again in {seconds} s."),
    "auth.disabled": ("该账号已停用，请联系管理员。",
                      "This account is disabled; ask an admin."),
    "auth.no_areas": ("该账号没有分配区域，请联系管理员。",
                      "This account has no areas assigned; ask an admin."),
    "auth.demo_hint": ("演示库账号见 README：commander / gridhead / planner / admin。",
                       "Demo accounts are in the README: commander / gridhead / planner / "
                       "admin."),
    "auth.signed_in": ("{name}（{role}）", "{name} ({role})"),
    "auth.areas": ("可见区域：{areas}", "Areas: {areas}"),
    "auth.logout": ("退出登录", "Sign out"),
    "auth.token_bad": ("大屏令牌无效：{reason}。请让管理员重新签发（gridmap wall-token create）。",
                       "Wall token refused: {reason}. Ask an admin for a new one "
                       "(gridmap wall-token create)."),
    "auth.demo_passwords": (
        "已拒绝启动：这不是演示库，但账号 {names} 仍在使用演示或默认密码。"
        "请先运行 gridmap users passwd <账号> 修改密码。",
        "Refusing to start: this is not the demo database, but the account(s) {names} "
        "still use a demo or default password. Change it first with "
        "gridmap users passwd <account>."),
    "auth.token.revoked": ("令牌已被撤销", "the token was revoked"),
    "auth.token.expired": ("令牌已过期", "the token has expired"),
    "auth.token.unknown": ("令牌不存在或已更换", "no such token"),
    "auth.token.refused": ("令牌不可用", "the token is not valid"),
    "auth.refused": ("已拒绝：{reason}", "Refused: {reason}"),
    "auth.page_denied": ("当前账号（{role}）无权打开此页面。",
                         "Your role ({role}) may not open this page."),
    "auth.area_denied": ("无权查看 {code}：它不在您的管辖区域内。",
                         "Refused: {code} is outside your areas."),
    "role.commander": ("指挥长", "commander"),
    "role.grid_head": ("网格长", "grid head"),
    "role.planner": ("规划员", "planner"),
    "role.admin": ("管理员", "admin"),
    "role.wall": ("大屏", "wall screen"),
    "role.alliance": ("解忧联盟成员", "alliance member"),
}
