"""Text of the data page: key -> (中文, English).

The import's reasons (``data.reason.<code>``) come from :data:`geo.importer.reasons.REASONS`,
so that the page, the CLI and the refused-rows file say the same thing.
"""

from geo.importer.reasons import REASONS

STRINGS: dict[str, tuple[str, str]] = {
    "data.title": ("数据管理", "Data"),
    "data.intro": ("导入网格边界、诉求、警务站点、志愿服务记录和行政区划。先试导入检查，确认无误后"
                   "再正式写入；每次导入记入审计日志。",
                   "Import grid boundaries, requests, police stations, volunteer activities "
                   "and admin units. Check a file first (a dry run), then import it; every "
                   "import is recorded in the audit log."),
    # Upload
    "data.upload": ("选择文件", "File"),
    "data.upload_help": ("CSV（UTF-8 或 GBK）、Excel .xlsx、GeoJSON、GeoPackage 或压缩的 Shapefile"
                         "（.zip）",
                         "CSV (UTF-8 or GBK), Excel .xlsx, GeoJSON, GeoPackage or a zipped "
                         "Shapefile (.zip)"),
    "data.kind": ("数据类型", "Kind of data"),
    "data.kind.grids": ("网格边界", "Grid boundaries"),
    "data.kind.requests": ("诉求", "Requests"),
    "data.kind.stations": ("警务站点", "Police stations"),
    "data.kind.activities": ("志愿服务活动", "Volunteer activities"),
    "data.kind.units": ("行政区划", "Admin units"),
    "data.kind.auto": ("自动识别", "Detect from the file"),
    "data.kind.detected": ("按文件的列和几何识别为：{kind}", "Detected from the file's columns "
                           "and geometry: {kind}"),
    "data.kind.undetected": ("未能识别，按诉求检查", "Not recognised; checked as requests"),
    "data.kind_help": ("按文件的列和几何自动识别；识别不对时请手动选择。",
                       "Guessed from the file's columns and geometry; choose another if it "
                       "is wrong."),
    # Templates
    "data.templates": ("下载导入模板", "Download an import template"),
    "data.templates.intro": ("模板含可接受的列（中文列名，英文列名和其他写法也可以）和一行示例；"
                             "Excel 模板另有一页列说明。",
                             "A template holds the accepted columns (Chinese headings; the "
                             "English names and the other spellings listed work too) and one "
                             "example row; the Excel template has a sheet describing each "
                             "column."),
    "data.templates.kind": ("模板类型", "Template for"),
    "data.templates.csv": ("CSV 模板", "CSV template"),
    "data.templates.xlsx": ("Excel 模板", "Excel template"),
    "data.templates.file": ("模板_{kind}", "template_{kind}"),
    "data.refused.download": ("下载被拒绝的 {n} 行（附原因）",
                              "Download the {n} refused rows (with reasons)"),
    "data.refused.help": ("与上传的文件格式相同，最后一列写明原因；改正后可直接重新导入。",
                          "In the format uploaded, with the reason in a last column; fix "
                          "the rows and import that file again."),
    "data.refused.file": ("{stem}_被拒绝的行", "{stem}_refused_rows"),
    "data.crs": ("坐标系", "Coordinates"),
    "data.crs.auto": ("WGS84（文件声明其他坐标系时按文件）", "WGS84 (or the file's declared CRS)"),
    "data.crs.wgs84": ("WGS84（GPS）", "WGS84 (GPS)"),
    "data.crs.gcj02": ("GCJ-02（高德、腾讯、微信定位）", "GCJ-02 (Gaode, Tencent, WeChat)"),
    "data.crs.bd09": ("BD-09（百度）", "BD-09 (Baidu)"),
    "data.crs.cgcs2000": ("CGCS2000（国家大地坐标系）", "CGCS2000"),
    "data.crs.epsg": ("其他 EPSG 编码…", "Another EPSG code…"),
    "data.crs.epsg_code": ("EPSG 编码", "EPSG code"),
    "data.crs.epsg_placeholder": ("例如 4547", "e.g. 4547"),
    "data.wait": ("请选择要导入的文件。", "Choose a file to import."),
    # Dry run
    "data.checking": ("正在检查 {name}…", "Checking {name}…"),
    "data.preview": ("文件前 {n} 行（共 {total} 行）",
                     "First {n} rows of the file ({total} in all)"),
    "data.preview.geometry": ("几何", "geometry"),
    "data.preview.row": ("行号", "Row"),
    "data.check": ("检查结果（试导入，未写入）", "Check (dry run, nothing written)"),
    "data.file_rejected": ("整个文件被拒绝，未写入任何数据：{reason}",
                           "The whole file was rejected and nothing was written: {reason}"),
    "data.kpi.read": ("读取行数", "Rows read"),
    "data.kpi.new": ("新增", "New"),
    "data.kpi.new.dry": ("将新增", "Would be new"),
    "data.kpi.updated": ("已更新", "Updated"),
    "data.kpi.updated.dry": ("将更新", "Would be updated"),
    "data.kpi.unchanged": ("未变", "Unchanged"),
    "data.kpi.stale": ("其中 {n} 行比库中旧", "{n} older than stored"),
    "data.kpi.refused": ("拒绝", "Refused"),
    "data.kpi.warnings": ("警告", "Warnings"),
    "data.kpi.crs": ("坐标：{crs}", "coordinates: {crs}"),
    "data.problems": ("问题清单（{n} 条）", "Problems ({n})"),
    "data.problems.none": ("没有发现问题。", "No problems found."),
    "data.problems.note": ("行号即表格中的行号（第 1 行为表头）。被拒绝的行不会写入；只有警告的行"
                           "照常写入。库中已有的诉求按编号更新：比库中旧的行不改变任何数据，状态"
                           "不能倒退。",
                           "Row numbers are the spreadsheet's (the header is row 1). "
                           "Rows with an error are not written; rows with only a warning are. "
                           "Requests already stored are updated by their id: a row older than "
                           "the stored state changes nothing, and a status never moves back."),
    "data.problems.download": ("下载完整问题清单（CSV）", "Download every problem (CSV)"),
    "data.col.row": ("行号", "Row"),
    "data.col.field": ("字段", "Field"),
    "data.col.value": ("值", "Value"),
    "data.col.reason": ("原因", "Reason"),
    "data.col.severity": ("级别", "Severity"),
    "data.severity.error": ("错误", "Error"),
    "data.severity.warning": ("警告", "Warning"),
    "data.import": ("正式导入：写入 {n} 行（新增 {new}，更新 {updated}）",
                    "Import: write {n} rows ({new} new, {updated} updated)"),
    "data.import.nothing": ("没有可导入的有效行，不会写入任何数据。",
                            "There are no valid rows to import; nothing would be written."),
    "data.import.unchanged": ("无需导入：{n} 行与库中相同或比库中旧，不会写入任何数据。",
                              "Nothing to import: {n} rows are the same as stored or older, "
                              "so nothing would be written."),
    "data.importing": ("正在导入…", "Importing…"),
    "data.imported": ("导入完成：新增 {new} 行，更新 {updated} 行，未变 {unchanged} 行，拒绝 "
                      "{refused} 行。已记入审计日志。",
                      "Imported: {new} new, {updated} updated, {unchanged} unchanged, "
                      "{refused} refused. Recorded in the audit log."),
    "data.import.failed": ("导入失败，未写入任何数据：{reason}",
                           "The import failed and nothing was written: {reason}"),
    # Loaded data
    "data.loaded": ("库中数据", "Data loaded"),
    "data.col.table": ("数据表", "Table"),
    "data.col.rows": ("行数", "Rows"),
    "data.table.admin_unit": ("行政区划", "Admin units"),
    "data.table.account_session": ("登录会话", "Sign-in sessions"),
    "data.table.login_throttle": ("登录失败限速", "Sign-in throttle"),
    "data.table.grid": ("网格", "Grids"),
    "data.table.request": ("诉求", "Requests"),
    "data.table.request_event": ("流转记录", "Request events"),
    "data.table.station": ("警务站点", "Police stations"),
    "data.table.volunteer_activity": ("志愿服务活动", "Volunteer activities"),
    "data.table.account": ("账号", "Accounts"),
    "data.table.account_scope": ("账号管辖范围", "Account scopes"),
    "data.table.audit_log": ("审计日志", "Audit log lines"),
    "data.table.setting": ("设置", "Settings"),
    "data.table.api_key": ("接口密钥", "API keys"),
    "data.table.wall_token": ("大屏令牌", "Wall tokens"),
    "data.table.request_photo": ("办结照片", "Resolution photos"),
    "data.accounts.none": ("尚未建立账号。请用 gridmap users add 创建。",
                           "No accounts yet. Create them with gridmap users add."),
    "data.accounts": ("账号（用 gridmap users 管理）", "Accounts (managed with gridmap users)"),
    "data.accounts.col.username": ("账号", "Account"),
    "data.accounts.col.name": ("姓名", "Name"),
    "data.accounts.col.role": ("角色", "Role"),
    "data.accounts.col.areas": ("管辖区域", "Areas"),
    "data.accounts.col.state": ("状态", "State"),
    "data.accounts.col.last_login": ("最近登录", "Last sign-in"),
    "data.accounts.col.sessions": ("在线会话", "Live sessions"),
    "data.accounts.state.active": ("正常", "active"),
    "data.accounts.state.disabled": ("已停用", "disabled"),
    "data.accounts.state.locked": ("锁定中", "locked"),
    "data.tokens": ("大屏令牌（用 gridmap wall-token 管理）",
                    "Wall tokens (managed with gridmap wall-token)"),
    "data.tokens.none": ("尚未签发大屏令牌。", "No wall tokens issued."),
    "data.tokens.col.name": ("名称", "Name"),
    "data.tokens.col.area": ("区域", "Area"),
    "data.tokens.col.expires": ("到期", "Expires"),
    "data.tokens.col.state": ("状态", "State"),
    "data.tokens.col.last_used": ("最近使用", "Last used"),
    "data.tokens.state.live": ("有效", "live"),
    "data.tokens.state.expired": ("已过期", "expired"),
    "data.tokens.state.revoked": ("已撤销", "revoked"),
    "data.audit.filter": ("操作类型", "Action"),
    "data.audit.filter.all": ("全部", "All"),
    # Audit
    "data.audit": ("最近操作记录（审计日志）", "Recent activity (audit log)"),
    "data.audit.none": ("审计日志中还没有记录。", "The audit log is empty."),
    "data.audit.col.time": ("时间", "Time"),
    "data.audit.col.actor": ("操作人", "By"),
    "data.audit.col.action": ("操作", "Action"),
    "data.audit.col.area": ("区域", "Area"),
    "data.audit.col.rows": ("行数", "Rows"),
    "data.audit.col.detail": ("详情", "Detail"),
    "data.audit.action.export": ("导出", "Export"),
    "data.audit.action.import": ("导入", "Import"),
    "data.audit.action.login": ("登录", "Login"),
    "data.audit.action.login_failed": ("登录失败", "Failed login"),
    "data.audit.action.denied": ("越权访问被拒", "Refused access"),
    "data.audit.action.wall_token_create": ("签发大屏令牌", "Wall token issued"),
    "data.audit.action.wall_token_revoke": ("撤销大屏令牌", "Wall token revoked"),
    # Map
    "data.map_label": ("常住人口", "Residents"),
    "data.map_value.missing": ("未登记", "not recorded"),
    "data.legend": ("网格人口数据", "Grid population data"),
    "data.legend.has": ("已登记人口（{n} 个网格）", "Residents recorded: {n} grids"),
    "data.legend.missing": ("缺少人口（{n} 个网格）", "Residents missing: {n} grids"),
    "data.map_note": ("缺少人口的网格无法计算每千人指标和覆盖人口，请补录后重新导入网格。",
                      "Grids without residents get no per-1,000 figures or covered "
                      "population: add them and import the grids again."),
}

STRINGS.update({f"data.reason.{code}": pair for code, pair in REASONS.items()})
