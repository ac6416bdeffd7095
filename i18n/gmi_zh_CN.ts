<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN" sourcelanguage="en">
<context>
    <name>@default</name>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="210"/>
        <source>GmiAlgorithm</source>
        <comment>Analysis</comment>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="211"/>
        <source>GmiAlgorithm</source>
        <comment>Pipeline</comment>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>AncillaryParameters</name>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="295"/>
        <source>MCD19A2 files (aerosol optical depth, water vapour)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="295"/>
        <source>Daily MAIAC files; the granule&apos;s acquisition day is used. Without them the documented default AOD and water vapour apply.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="298"/>
        <source>ASTER GDEM tiles (*_dem.tif)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="298"/>
        <source>Target altitude for 6S; sea level without them.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="301"/>
        <source>MOD09A1 files (colour-balancing reference)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="301"/>
        <source>8-day surface reflectance sampled onto each tile at 256 x 256 px.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="308"/>
        <source>Total ozone (cm-atm)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="308"/>
        <source>Ozone column for 6S; 0.30 cm-atm (300 DU) is the 6S base case.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="312"/>
        <source>6S aerosol model</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="312"/>
        <source>6S predefined aerosol type.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="315"/>
        <source>6S processes</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="315"/>
        <source>How many 6S runs go at once (threads driving 6S executables).</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>AtmosphericParameters</name>
    <message>
        <location filename="../gmi_qgis_plugin/processing/atmospheric_parameters.py" line="56"/>
        <source>Atmospheric parameters (6S)</source>
        <translation>大气参数（6S）</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/atmospheric_parameters.py" line="60"/>
        <source>ASTER L1T granule</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/atmospheric_parameters.py" line="62"/>
        <source>Tiles (IX,IY or tile keys; empty = every tile of the granule)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/atmospheric_parameters.py" line="64"/>
        <source>6S coefficients</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/atmospheric_parameters.py" line="66"/>
        <source>6S record (JSON)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/atmospheric_parameters.py" line="66"/>
        <source>JSON files (*.json)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/atmospheric_parameters.py" line="69"/>
        <source>Number of tiles</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/atmospheric_parameters.py" line="70"/>
        <source>Tile keys</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/atmospheric_parameters.py" line="71"/>
        <source>AOD at 550 nm (first tile)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/atmospheric_parameters.py" line="72"/>
        <source>Water vapour, g/cm² (first tile)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/atmospheric_parameters.py" line="73"/>
        <source>Target altitude, km (first tile)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/atmospheric_parameters.py" line="93"/>
        <source>{}: the granule&apos;s footprint does not touch tile {}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/atmospheric_parameters.py" line="114"/>
        <source>6S for tile {}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/atmospheric_parameters.py" line="132"/>
        <source>{}: AOD550 {:.3f} ({}), water vapour {:.2f} g/cm² ({}), altitude {:.3f} km ({})</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>ConfigOptionsPage</name>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_settings.py" line="27"/>
        <source>Defaults</source>
        <translation>默认值</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_settings.py" line="31"/>
        <source>Workspace folder</source>
        <translation>工作空间文件夹</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_settings.py" line="33"/>
        <source>This computer</source>
        <translation>本机</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_settings.py" line="34"/>
        <source>Alibaba Cloud MaxCompute (ODPS)</source>
        <translation>阿里云 MaxCompute（ODPS）</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_settings.py" line="35"/>
        <source>Default backend</source>
        <translation>默认计算后端</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_settings.py" line="38"/>
        <source>Worker processes</source>
        <translation>工作进程数</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_settings.py" line="39"/>
        <source>Debug mode (log every info message)</source>
        <translation>调试模式（记录所有信息消息）</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_settings.py" line="43"/>
        <source>MaxCompute (ODPS)</source>
        <translation>MaxCompute（ODPS）</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_settings.py" line="46"/>
        <source>Project</source>
        <translation>项目</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_settings.py" line="49"/>
        <source>Endpoint</source>
        <translation>服务地址（Endpoint）</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_settings.py" line="51"/>
        <source>AccessKey</source>
        <translation>AccessKey</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_settings.py" line="52"/>
        <source>Store the AccessKey as a &lt;i&gt;Basic&lt;/i&gt; authentication: user name = AccessKey ID, password = AccessKey secret. GMI keeps only the configuration&apos;s id; the secret stays in the QGIS authentication database.</source>
        <translation>请将 AccessKey 保存为 &lt;i&gt;Basic&lt;/i&gt; 认证配置：用户名 = AccessKey ID，密码 = AccessKey Secret。GMI 只保存该配置的 ID，密钥始终保存在 QGIS 认证数据库中。</translation>
    </message>
</context>
<context>
    <name>CustomIndex</name>
    <message>
        <location filename="../gmi_qgis_plugin/processing/custom_index.py" line="59"/>
        <source>Custom index (formula)</source>
        <translation>自定义指数（公式）</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/custom_index.py" line="63"/>
        <source>Formula over b1..b9</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/custom_index.py" line="64"/>
        <source>Numbers, b1..b9 (b3 = 3N), + - * / **, parentheses, abs sqrt log log10 exp min max.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/custom_index.py" line="67"/>
        <source>Index id (snake_case)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/custom_index.py" line="69"/>
        <source>Display name</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/custom_index.py" line="70"/>
        <source>Workspace folder (with mosaic or color_balancing results)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/custom_index.py" line="74"/>
        <source>Or: a 9-band reflectance raster (bands b1..b9 in order)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/custom_index.py" line="76"/>
        <source>Output folder</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/custom_index.py" line="77"/>
        <source>Workspace reflectance</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/custom_index.py" line="77"/>
        <source>auto: color_balancing results when the workspace has them, else mosaic.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/custom_index.py" line="80"/>
        <source>Reference-engine syntax ('\' is ×, '^' is power)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/custom_index.py" line="80"/>
        <source>Reads formulas written as in the reference engine&apos;s Mineral_Indices.csv.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/custom_index.py" line="83"/>
        <source>Index layer</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/custom_index.py" line="84"/>
        <source>Canonical formula</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/custom_index.py" line="85"/>
        <source>Tiles computed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/custom_index.py" line="96"/>
        <source>INDEX_ID: {!r} must be snake_case: a lowercase letter, then letters, digits or &apos;_&apos;</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/custom_index.py" line="109"/>
        <source>Give either WORKSPACE or an INPUT raster (exactly one)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/custom_index.py" line="111"/>
        <source>{} = {}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/custom_index.py" line="137"/>
        <source>TILES: no {} results on {} (run gmi:run_method first)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/custom_index.py" line="139"/>
        <source>reflectance: {} results of {} tile(s)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/custom_index.py" line="179"/>
        <source>Cancelled; {} is incomplete</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/custom_index.py" line="156"/>
        <source>INPUT: {} is not a GDAL raster</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/custom_index.py" line="161"/>
        <source>INPUT: GDAL cannot open {}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/custom_index.py" line="163"/>
        <source>INPUT: {} has {} band(s); b1..b9 reflectance needs 9</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>DlgJobs</name>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="34"/>
        <source>GMI – Jobs</source>
        <translation>GMI – 任务</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="48"/>
        <source>#</source>
        <translation>#</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="48"/>
        <source>Method</source>
        <translation>方法</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="48"/>
        <source>Backend</source>
        <translation>计算后端</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="178"/>
        <source>Tiles</source>
        <translation>瓦片</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="48"/>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="48"/>
        <source>Progress</source>
        <translation>进度</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="48"/>
        <source>Started</source>
        <translation>开始时间</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="67"/>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="68"/>
        <source>Load results</source>
        <translation>加载结果</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="69"/>
        <source>Provenance (STAC)…</source>
        <translation>溯源信息（STAC）…</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="70"/>
        <source>Open folder</source>
        <translation>打开文件夹</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="71"/>
        <source>Logview</source>
        <translation>Logview</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="75"/>
        <source>Load results when a job finishes</source>
        <translation>任务完成后自动加载结果</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="103"/>
        <source>local</source>
        <translation>本机</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="182"/>
        <source>MaxCompute</source>
        <translation>MaxCompute</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="124"/>
        <source>queued</source>
        <translation>排队中</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="124"/>
        <source>running</source>
        <translation>运行中</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="124"/>
        <source>finished</source>
        <translation>已完成</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="125"/>
        <source>failed</source>
        <translation>失败</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="125"/>
        <source>cancelled</source>
        <translation>已取消</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="172"/>
        <source>No job yet: start one from “Run”.</source>
        <translation>暂无任务：请在“运行”中启动。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="177"/>
        <source>Workspace</source>
        <translation>工作空间</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="180"/>
        <source>Parameters</source>
        <translation>参数</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="180"/>
        <source>defaults</source>
        <translation>默认</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="184"/>
        <source>MaxCompute Logview</source>
        <translation>MaxCompute Logview</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="188"/>
        <source>Export folder</source>
        <translation>导出文件夹</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="189"/>
        <source>Rasters (VRT)</source>
        <translation>栅格（VRT）</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="191"/>
        <source>Legend group</source>
        <translation>图层组</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="201"/>
        <source>Cannot load the results: {}</source>
        <translation>无法加载结果：{}</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="204"/>
        <source>{} layers added in “{}”.</source>
        <translation>已在“{1}”中添加 {0} 个图层。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_jobs.py" line="209"/>
        <source>GMI – Provenance of {}</source>
        <translation>GMI – {} 的溯源信息</translation>
    </message>
</context>
<context>
    <name>DlgJsonViewer</name>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_json_viewer.py" line="30"/>
        <source>GMI – Provenance</source>
        <translation>GMI – 溯源信息</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_json_viewer.py" line="35"/>
        <source>Document</source>
        <translation>文档</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_json_viewer.py" line="45"/>
        <source>Key</source>
        <translation>键</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_json_viewer.py" line="45"/>
        <source>Value</source>
        <translation>值</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_json_viewer.py" line="51"/>
        <source>Tree</source>
        <translation>树</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_json_viewer.py" line="52"/>
        <source>JSON</source>
        <translation>JSON</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_json_viewer.py" line="55"/>
        <source>Copy JSON</source>
        <translation>复制 JSON</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_json_viewer.py" line="69"/>
        <source>Cannot read {}: {}</source>
        <translation>无法读取 {}：{}</translation>
    </message>
</context>
<context>
    <name>DlgLoadGranules</name>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="81"/>
        <source>GMI – Load ASTER granules</source>
        <translation>GMI – 加载 ASTER 景</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="175"/>
        <source>AST_L1T granules</source>
        <translation>AST_L1T 景</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="96"/>
        <source>Add files…</source>
        <translation>添加文件…</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="97"/>
        <source>Add folder…</source>
        <translation>添加文件夹…</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="98"/>
        <source>Remove</source>
        <translation>移除</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="99"/>
        <source>Clear</source>
        <translation>清空</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="103"/>
        <source>Show footprints on the map</source>
        <translation>在地图上显示覆盖范围</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="109"/>
        <source>Granule</source>
        <translation>景</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="109"/>
        <source>Acquired (UTC)</source>
        <translation>成像时间（UTC）</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="109"/>
        <source>Sun elev. (°)</source>
        <translation>太阳高度角（°）</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="109"/>
        <source>Gains (bands 1–9)</source>
        <translation>增益（波段 1–9）</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="109"/>
        <source>Bands present</source>
        <translation>现有波段</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="109"/>
        <source>Cloud %</source>
        <translation>云量 %</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="109"/>
        <source>SWIR</source>
        <translation>SWIR</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="122"/>
        <source>Add AST_L1T .hdf files, or a folder that holds them.</source>
        <translation>请添加 AST_L1T .hdf 文件或包含它们的文件夹。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="131"/>
        <source>Ingest into the workspace</source>
        <translation>导入工作空间</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="136"/>
        <source>Workspace folder</source>
        <translation>工作空间文件夹</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="139"/>
        <source>Folder searched for MCD19A2 (aerosol, water vapour), MOD09A1 (colour-balancing reference) and ASTER GDEM tiles. Without them 6S uses documented default atmospheres.</source>
        <translation>在此文件夹中查找 MCD19A2（气溶胶、水汽）、MOD09A1（匀色参考）和 ASTER GDEM 数据。缺少这些数据时 6S 使用文档给出的默认大气参数。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="143"/>
        <source>Ancillary data folder</source>
        <translation>辅助数据文件夹</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="158"/>
        <source>Ingest</source>
        <translation>导入</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="160"/>
        <source>Cancel task</source>
        <translation>取消任务</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="175"/>
        <source>ASTER L1T HDF (AST_L1T_*.hdf *.hdf);;All files (*)</source>
        <translation>ASTER L1T HDF (AST_L1T_*.hdf *.hdf);;所有文件 (*)</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="181"/>
        <source>Folder with AST_L1T granules</source>
        <translation>包含 AST_L1T 景的文件夹</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="193"/>
        <source>Reading granule metadata…</source>
        <translation>正在读取景元数据…</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="194"/>
        <source>GMI: reading AST_L1T metadata</source>
        <translation>GMI：读取 AST_L1T 元数据</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="208"/>
        <source>Cannot read the granules: {}</source>
        <translation>无法读取景：{}</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="217"/>
        <source>{} granule(s) read</source>
        <translation>已读取 {} 景</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="219"/>
        <source>{} file(s) are not readable AST_L1T granules</source>
        <translation>{} 个文件不是可读的 AST_L1T 景</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="223"/>
        <source>No AST_L1T granule found there.</source>
        <translation>该位置没有 AST_L1T 景。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="258"/>
        <source>usable</source>
        <translation>可用</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="258"/>
        <source>unusable (after 2008-03-31)</source>
        <translation>不可用（2008-03-31 之后）</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="259"/>
        <source>no SWIR bands</source>
        <translation>无 SWIR 波段</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="264"/>
        <source>ASTER's SWIR detectors failed in April 2008: bands 4–9 are saturated and striped. GMI keeps them out of SWIR indices (NaN).</source>
        <translation>ASTER 的 SWIR 探测器于 2008 年 4 月失效：波段 4–9 饱和并有条带。GMI 不将其用于 SWIR 指数（NaN）。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="275"/>
        <source>{} granule(s) acquired after 2008-03-31: their SWIR bands (4–9) are saturated and striped, so SWIR-based indices are NaN where only they cover a tile.</source>
        <translation>{} 景成像于 2008-03-31 之后：其 SWIR 波段（4–9）饱和并有条带，仅由这些景覆盖的区域中基于 SWIR 的指数为 NaN。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="284"/>
        <source>No folder: 6S uses default aerosol and water vapour, and colour balancing has no MODIS reference.</source>
        <translation>未指定文件夹：6S 使用默认气溶胶和水汽，匀色没有 MODIS 参考。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="288"/>
        <source>Found: {}</source>
        <translation>找到：{}</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="300"/>
        <source>GMI granule footprints</source>
        <translation>GMI 景覆盖范围</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="309"/>
        <source>Choose a workspace folder first.</source>
        <translation>请先选择工作空间文件夹。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="318"/>
        <source>GMI: ingesting {} granule(s)</source>
        <translation>GMI：正在导入 {} 景</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="331"/>
        <source>Ingest cancelled; granules already ingested are kept.</source>
        <translation>导入已取消；已导入的景会保留。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="334"/>
        <source>Ingest failed.</source>
        <translation>导入失败。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="335"/>
        <source>Ingest failed: {}</source>
        <translation>导入失败：{}</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_load_granules.py" line="340"/>
        <source>Ingested {} granule(s): {} granule-tile rows.</source>
        <translation>已导入 {} 景：共 {} 条景-瓦片记录。</translation>
    </message>
</context>
<context>
    <name>DlgRun</name>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="35"/>
        <source>GMI – Run</source>
        <translation>GMI – 运行</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="50"/>
        <source>Method</source>
        <translation>方法</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="53"/>
        <source>Mineral indices</source>
        <translation>矿物指数</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="54"/>
        <source>Colour-balanced mosaic (MODIS balancing)</source>
        <translation>匀色镶嵌（MODIS 匀色）</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="55"/>
        <source>Mosaic of surface reflectance</source>
        <translation>地表反射率镶嵌</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="65"/>
        <source>Indices</source>
        <translation>指数</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="72"/>
        <source>All</source>
        <translation>全选</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="73"/>
        <source>None</source>
        <translation>全不选</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="74"/>
        <source>VNIR only (post-2008 granules)</source>
        <translation>仅 VNIR（2008 年后的景）</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="87"/>
        <source>Tiles and backend</source>
        <translation>瓦片与计算后端</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="92"/>
        <source>Workspace</source>
        <translation>工作空间</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="102"/>
        <source>Tiles</source>
        <translation>瓦片</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="104"/>
        <source>This computer</source>
        <translation>本机</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="105"/>
        <source>Alibaba Cloud MaxCompute (ODPS)</source>
        <translation>阿里云 MaxCompute（ODPS）</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="106"/>
        <source>Backend</source>
        <translation>计算后端</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="114"/>
        <source>Worker processes, one tile each.</source>
        <translation>工作进程数，每个进程处理一个瓦片。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="115"/>
        <source>Worker processes</source>
        <translation>工作进程数</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="120"/>
        <source>MaxCompute project</source>
        <translation>MaxCompute 项目</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="126"/>
        <source>Project</source>
        <translation>项目</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="128"/>
        <source>Endpoint</source>
        <translation>服务地址（Endpoint）</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="130"/>
        <source>AccessKey</source>
        <translation>AccessKey</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="151"/>
        <source>Run</source>
        <translation>运行</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="153"/>
        <source>Cancel job</source>
        <translation>取消任务</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="154"/>
        <source>Jobs…</source>
        <translation>任务…</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="203"/>
        <source>Surface reflectance (6S), mosaic of every granule of a tile, MODIS colour balancing, then the chosen band-ratio indices (float32, NaN = no data).</source>
        <translation>地表反射率（6S），瓦片内所有景镶嵌，MODIS 匀色，然后计算所选的波段比值指数（float32，NaN = 无数据）。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="206"/>
        <source>Surface reflectance (6S), mosaic of every granule of a tile, then balanced to the MOD09A1 reference: bands 1–9 plus RGB presets.</source>
        <translation>地表反射率（6S），瓦片内所有景镶嵌，再匀色到 MOD09A1 参考：波段 1–9 及 RGB 预设组合。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="208"/>
        <source>Surface reflectance (6S) of every granule of a tile, mosaicked best-pixel first, without colour balancing.</source>
        <translation>瓦片内每景的地表反射率（6S），按最佳像元优先镶嵌，不做匀色。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="228"/>
        <source>Picked tiles ({})</source>
        <translation>已选瓦片（{}）</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="229"/>
        <source>Every tile of the workspace ({})</source>
        <translation>工作空间中的全部瓦片（{}）</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="239"/>
        <source>{} of {} chosen</source>
        <translation>已选 {} / {}</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="304"/>
        <source>The workspace {} holds no ingested granule: load and ingest granules first.</source>
        <translation>工作空间 {} 中没有已导入的景：请先加载并导入景。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="310"/>
        <source>None of the picked tiles holds an ingested granule.</source>
        <translation>所选瓦片中没有已导入的景。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="313"/>
        <source>{} picked tile(s) hold no ingested granule and are left out.</source>
        <translation>{} 个所选瓦片没有已导入的景，已略过。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="318"/>
        <source>Choose at least one index.</source>
        <translation>请至少选择一个指数。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="327"/>
        <source>Set the MaxCompute project and endpoint.</source>
        <translation>请设置 MaxCompute 项目和服务地址。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="342"/>
        <source>{} started ({}).</source>
        <translation>{} 已启动（{}）。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_run.py" line="360"/>
        <source>Open MaxCompute Logview</source>
        <translation>打开 MaxCompute Logview</translation>
    </message>
</context>
<context>
    <name>DlgTiles</name>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="48"/>
        <source>GMI – Tiles</source>
        <translation>GMI – 瓦片</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="64"/>
        <source>On the map</source>
        <translation>地图上</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="66"/>
        <source>Pick tiles on the map</source>
        <translation>在地图上选择瓦片</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="68"/>
        <source>Click a tile to add or remove it; drag a box to add tiles; Ctrl+drag to remove them.</source>
        <translation>单击瓦片可添加或移除；拖框可添加瓦片；按住 Ctrl 拖框可移除。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="71"/>
        <source>Redraw grid</source>
        <translation>重绘格网</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="73"/>
        <source>Redraw when the map moves</source>
        <translation>地图移动时重绘</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="80"/>
        <source>Select tiles covered by</source>
        <translation>按以下范围选择瓦片</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="82"/>
        <source>Loaded granule footprints</source>
        <translation>已加载景的覆盖范围</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="84"/>
        <source>Ingested granules</source>
        <translation>已导入的景</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="85"/>
        <source>Every tile of the workspace that holds at least one granule.</source>
        <translation>工作空间中至少包含一景的所有瓦片。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="91"/>
        <source>Selected features only</source>
        <translation>仅选中要素</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="92"/>
        <source>Polygons of layer</source>
        <translation>图层中的多边形</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="101"/>
        <source>Picked tiles</source>
        <translation>已选瓦片</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="104"/>
        <source>Tile key</source>
        <translation>瓦片编号</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="104"/>
        <source>x</source>
        <translation>x</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="104"/>
        <source>y</source>
        <translation>y</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="104"/>
        <source>Granules</source>
        <translation>景数</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="119"/>
        <source>Zoom to picked</source>
        <translation>缩放到所选</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="121"/>
        <source>Clear</source>
        <translation>清空</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="143"/>
        <source>GMI tile grid</source>
        <translation>GMI 瓦片格网</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="164"/>
        <source>{} tiles in view. Grid: EPSG:3857, 30 m pixels, 1024 × 1024 px tiles (30.72 km).</source>
        <translation>视图中有 {} 个瓦片。格网：EPSG:3857，30 米像元，1024 × 1024 像素瓦片（30.72 公里）。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="168"/>
        <source>Too many tiles in view to draw the grid ({}); showing picked and ingested tiles only.</source>
        <translation>视图中瓦片过多，无法绘制格网（{}）；仅显示已选和已导入的瓦片。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="204"/>
        <source>No granules loaded: use “Load ASTER granules” first.</source>
        <translation>尚未加载景：请先使用“加载 ASTER 景”。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="217"/>
        <source>The workspace holds no ingested granule yet.</source>
        <translation>工作空间中还没有已导入的景。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="226"/>
        <source>Choose a polygon layer.</source>
        <translation>请选择一个多边形图层。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="252"/>
        <source>{} tile(s) picked; {} hold ingested granules, {} would be skipped by a run.</source>
        <translation>已选 {} 个瓦片；其中 {} 个含已导入的景，{} 个在运行时会被跳过。</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/gui/dlg_tiles.py" line="255"/>
        <source>No tile picked: a run computes every tile of the workspace.</source>
        <translation>未选择瓦片：运行时将计算工作空间中的全部瓦片。</translation>
    </message>
</context>
<context>
    <name>ExportResults</name>
    <message>
        <location filename="../gmi_qgis_plugin/processing/export_results.py" line="79"/>
        <source>Export results</source>
        <translation>导出结果</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/export_results.py" line="84"/>
        <source>Workspace folder</source>
        <translation type="unfinished">工作空间文件夹</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/export_results.py" line="87"/>
        <source>Method</source>
        <translation type="unfinished">方法</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/export_results.py" line="88"/>
        <source>Export folder</source>
        <translation type="unfinished">导出文件夹</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/export_results.py" line="90"/>
        <source>Reflectance encoding</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/export_results.py" line="92"/>
        <source>uint16 stores counts of 1e-4 (scale 1e-4, nodata 65535); float32 keeps NaN nodata. Indices are always float32.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/export_results.py" line="95"/>
        <source>Only these outputs (ids separated by &apos;;&apos; or spaces)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/export_results.py" line="95"/>
        <source>e.g. &apos;ferric_iron; kaolinite_index&apos; or &apos;b01 b02 b03&apos;. Empty exports every output.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/export_results.py" line="98"/>
        <source>Cloud Optimized GeoTIFF</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/export_results.py" line="98"/>
        <source>COG with overviews; off writes plain tiled GeoTIFFs.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/export_results.py" line="100"/>
        <source>Write STAC items</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/export_results.py" line="100"/>
        <source>One STAC item per tile with the provenance of its results.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/export_results.py" line="102"/>
        <source>Open the layers when done</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/export_results.py" line="102"/>
        <source>Adds one styled VRT layer per output and per RGB preset.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/export_results.py" line="104"/>
        <source>Mosaic layers (VRT)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/export_results.py" line="105"/>
        <source>Tiles exported</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/export_results.py" line="106"/>
        <source>GeoTIFFs written</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/export_results.py" line="107"/>
        <source>VRTs written</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/export_results.py" line="122"/>
        <source>export of {} from {}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/export_results.py" line="133"/>
        <source>{} {}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/export_results.py" line="142"/>
        <source>Export cancelled after {} GeoTIFF(s); the folder {} is incomplete</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>GmiAlgorithm</name>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="263"/>
        <source>Export folder</source>
        <translation>导出文件夹</translation>
    </message>
</context>
<context>
    <name>GmiJobs</name>
    <message>
        <location filename="../gmi_qgis_plugin/toolbelt/jobs.py" line="27"/>
        <source>Mosaic</source>
        <translation>镶嵌</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/toolbelt/jobs.py" line="28"/>
        <source>Colour-balanced mosaic</source>
        <translation>匀色镶嵌</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/toolbelt/jobs.py" line="29"/>
        <source>Mineral indices</source>
        <translation>矿物指数</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/toolbelt/jobs.py" line="88"/>
        <source>all tiles</source>
        <translation>全部瓦片</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/toolbelt/jobs.py" line="258"/>
        <source>1 tile</source>
        <translation>1 个瓦片</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/toolbelt/jobs.py" line="259"/>
        <source>{} tiles</source>
        <translation>{} 个瓦片</translation>
    </message>
</context>
<context>
    <name>GmiLayers</name>
    <message>
        <location filename="../gmi_qgis_plugin/toolbelt/layers.py" line="35"/>
        <source>SWIR usable</source>
        <translation>SWIR 可用</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/toolbelt/layers.py" line="36"/>
        <source>SWIR unusable (acquired after 2008-03-31)</source>
        <translation>SWIR 不可用（2008-03-31 之后成像）</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/toolbelt/layers.py" line="38"/>
        <source>no SWIR bands</source>
        <translation>无 SWIR 波段</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/toolbelt/layers.py" line="40"/>
        <source>Iron</source>
        <translation>铁</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/toolbelt/layers.py" line="40"/>
        <source>AlOH / clays</source>
        <translation>AlOH / 黏土</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/toolbelt/layers.py" line="40"/>
        <source>MgOH / carbonates</source>
        <translation>MgOH / 碳酸盐</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/toolbelt/layers.py" line="40"/>
        <source>Water and vegetation</source>
        <translation>水体与植被</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/toolbelt/layers.py" line="44"/>
        <source>ASTER 3-2-1 false colour (B3N, B2, B1)</source>
        <translation>ASTER 3-2-1 假彩色（B3N, B2, B1）</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/toolbelt/layers.py" line="45"/>
        <source>ASTER 4-6-8 SWIR false colour (B4, B6, B8)</source>
        <translation>ASTER 4-6-8 SWIR 假彩色（B4, B6, B8）</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/toolbelt/layers.py" line="263"/>
        <source>{} reflectance</source>
        <translation>{} 反射率</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/toolbelt/layers.py" line="264"/>
        <source>Bands</source>
        <translation>波段</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/toolbelt/layers.py" line="266"/>
        <source>Provenance</source>
        <translation>溯源</translation>
    </message>
</context>
<context>
    <name>GmiPlugin</name>
    <message>
        <location filename="../gmi_qgis_plugin/plugin_main.py" line="68"/>
        <source>Load ASTER granules…</source>
        <translation>加载 ASTER 景…</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/plugin_main.py" line="69"/>
        <source>Tiles…</source>
        <translation>瓦片…</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/plugin_main.py" line="70"/>
        <source>Run…</source>
        <translation>运行…</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/plugin_main.py" line="71"/>
        <source>Jobs…</source>
        <translation>任务…</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/plugin_main.py" line="72"/>
        <source>Settings…</source>
        <translation>设置…</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/plugin_main.py" line="73"/>
        <source>Help</source>
        <translation>帮助</translation>
    </message>
</context>
<context>
    <name>GmiProvider</name>
    <message>
        <location filename="../gmi_qgis_plugin/processing/provider.py" line="50"/>
        <source>GMI - Global Mineral Indices</source>
        <translation>GMI - 全球矿物指数</translation>
    </message>
</context>
<context>
    <name>GranuleParameters</name>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="272"/>
        <source>ASTER L1T granules (.hdf files or folders)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="275"/>
        <source>AST_L1T HDF-EOS files; a folder stands for every *.hdf in it.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>GranulesToIndices</name>
    <message>
        <location filename="../gmi_qgis_plugin/processing/granules_to_indices.py" line="58"/>
        <source>Granules → mineral indices</source>
        <translation>景 → 矿物指数</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/granules_to_indices.py" line="64"/>
        <source>Workspace folder</source>
        <translation type="unfinished">工作空间文件夹</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/granules_to_indices.py" line="67"/>
        <source>Only these tiles (IX,IY or tile keys; empty = every tile touched)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/granules_to_indices.py" line="68"/>
        <source>Indices (none = all)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/granules_to_indices.py" line="70"/>
        <source>Mosaic strategy</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/granules_to_indices.py" line="72"/>
        <source>Worker processes</source>
        <translation type="unfinished">工作进程数</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/granules_to_indices.py" line="74"/>
        <source>Export folder</source>
        <translation type="unfinished">导出文件夹</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/granules_to_indices.py" line="76"/>
        <source>Source rows written</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/granules_to_indices.py" line="77"/>
        <source>Tiles computed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/granules_to_indices.py" line="78"/>
        <source>Tiles up to date (skipped)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/granules_to_indices.py" line="79"/>
        <source>Index layers (VRT)</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>IngestGranules</name>
    <message>
        <location filename="../gmi_qgis_plugin/processing/ingest_granules.py" line="39"/>
        <source>Ingest ASTER granules</source>
        <translation>导入 ASTER 景</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/ingest_granules.py" line="44"/>
        <source>Workspace folder (created if missing)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/ingest_granules.py" line="47"/>
        <source>Holds gmi.gpkg; re-ingesting a granule replaces its rows.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/ingest_granules.py" line="50"/>
        <source>Only these tiles (IX,IY or tile keys; empty = every tile touched)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/ingest_granules.py" line="51"/>
        <source>Source rows written</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/ingest_granules.py" line="52"/>
        <source>Granules ingested</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/ingest_granules.py" line="53"/>
        <source>Tiles touched (keys)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/ingest_granules.py" line="54"/>
        <source>Number of tiles touched</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/ingest_granules.py" line="65"/>
        <source>GRANULES: no granule given</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/ingest_granules.py" line="70"/>
        <source>ingest</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/ingest_granules.py" line="74"/>
        <source>Granule {} of {}: {}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/ingest_granules.py" line="86"/>
        <source>Cancelled: {} was not ingested</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/ingest_granules.py" line="93"/>
        <source>{}: {} tile(s): {}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/ingest_granules.py" line="96"/>
        <source>{}: no tile with valid pixels</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>ListTiles</name>
    <message>
        <location filename="../gmi_qgis_plugin/processing/list_tiles.py" line="55"/>
        <source>List grid tiles</source>
        <translation>列出格网瓦片</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/list_tiles.py" line="60"/>
        <source>Extent</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/list_tiles.py" line="61"/>
        <source>Workspace (adds the stored granule count and computed methods)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/list_tiles.py" line="65"/>
        <source>Maximum number of tiles</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/list_tiles.py" line="65"/>
        <source>Refuse extents covering more tiles than this (a 30 km grid has 1.7 million tiles).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/list_tiles.py" line="69"/>
        <source>Grid tiles</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/list_tiles.py" line="71"/>
        <source>Tile keys</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/list_tiles.py" line="72"/>
        <source>Number of tiles</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/list_tiles.py" line="102"/>
        <source>Give granules, an extent or a workspace</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/list_tiles.py" line="104"/>
        <source>{} tiles is more than MAX_TILES = {}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/list_tiles.py" line="135"/>
        <source>{} tile(s)</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>MethodOptionParameters</name>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="51"/>
        <source>Mosaic strategy</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>OdpsParameters</name>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="404"/>
        <source>MaxCompute project</source>
        <translation>MaxCompute 项目</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="406"/>
        <source>ODPS backend only.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="407"/>
        <source>MaxCompute endpoint</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="409"/>
        <source>ODPS backend only, e.g. https://service.cn-shanghai.maxcompute.aliyun.com/api</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="410"/>
        <source>MaxCompute credentials (QGIS auth config)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="412"/>
        <source>A Basic auth config: user name = AccessKey ID, password = AccessKey secret.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>PlgLogger</name>
    <message>
        <location filename="../gmi_qgis_plugin/toolbelt/log_handler.py" line="106"/>
        <source>Details…</source>
        <translation>详情…</translation>
    </message>
</context>
<context>
    <name>RunMethod</name>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="63"/>
        <source>Run method (mosaic, colour balancing, mineral indices)</source>
        <translation>运行方法（镶嵌、匀色、矿物指数）</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="102"/>
        <source>Workspace folder</source>
        <translation type="unfinished">工作空间文件夹</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="103"/>
        <source>Method</source>
        <translation type="unfinished">方法</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="72"/>
        <source>Indices (mineral_indices; none = all)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="75"/>
        <source>Mosaic strategy</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="77"/>
        <source>Backend</source>
        <translation type="unfinished">计算后端</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="79"/>
        <source>Worker processes (local backend)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="82"/>
        <source>1 computes inside QGIS; more starts a process pool (fast, but QGIS must be able to spawn Python processes).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="86"/>
        <source>Colour-balance before the indices</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="86"/>
        <source>mineral_indices on the balanced mosaic (on the plain mosaic when off).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="89"/>
        <source>Recompute tiles that are up to date</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="89"/>
        <source>A rerun normally skips tiles whose inputs and parameters did not change.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="92"/>
        <source>MaxCompute project</source>
        <translation>MaxCompute 项目</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="92"/>
        <source>ODPS backend only.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="95"/>
        <source>MaxCompute endpoint</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="95"/>
        <source>ODPS backend only, e.g. https://service.cn-shanghai.maxcompute.aliyun.com/api</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="98"/>
        <source>MaxCompute credentials (QGIS auth config)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="98"/>
        <source>A Basic auth config: user name = AccessKey ID, password = AccessKey secret.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="104"/>
        <source>Tiles computed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="105"/>
        <source>Tiles up to date (skipped)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="106"/>
        <source>Tiles computed or up to date</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="132"/>
        <source>tile {},{}: {}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="136"/>
        <source>{} on {}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="142"/>
        <source>Cancelled: {} tile(s) computed before the stop</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="144"/>
        <source>{}: {} tile(s) computed, {} up to date</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="153"/>
        <source>BACKEND odps: the MaxCompute backend ({}) is not part of this build of the GMI engine; use BACKEND local</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/run_method.py" line="156"/>
        <source>BACKEND odps: MaxCompute runs are started from the GMI Run dialog or `gmi run --backend odps` in this version; use BACKEND local here</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>TilesParameter</name>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="342"/>
        <source>Tiles (IX,IY or tile keys; empty = all)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="345"/>
        <source>Separate tiles with &apos;;&apos; or spaces, e.g. &apos;260,526; 260,525&apos; or &apos;res-30_tilesize-1024_x-260_y-526&apos;.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>WorkspaceParameters</name>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="383"/>
        <source>Workspace folder</source>
        <translation>工作空间文件夹</translation>
    </message>
    <message>
        <location filename="../gmi_qgis_plugin/processing/base.py" line="385"/>
        <source>Method</source>
        <translation>方法</translation>
    </message>
</context>
</TS>
