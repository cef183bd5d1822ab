"""Chinese labels of the codes the marts use, as the exports print them."""

from __future__ import annotations

SEVERITY_ZH = {"minor": "轻微", "general": "一般", "serious": "严重"}
SEVERITY_RANK = {"minor": 1, "general": 2, "serious": 3}
WARNING_STATUS_ZH = {"open": "未处理", "acknowledged": "已签收", "closed": "已关闭"}
CLOSE_METHOD_ZH = {"condition_cleared": "预警条件解除", "department_closed": "部门办结"}
SUBJECT_TYPE_ZH = {
    "organisation": "法人及非法人组织",
    "natural_person": "自然人",
    "individual_business": "个体工商户",
}
WITHDRAWAL_REASON_ZH = {"repair": "信用修复", "revocation": "撤销", "correction": "更正"}
EXIT_REASON_ZH = {"repair": "信用修复", "expiry": "公示期满", "revocation": "撤销或更正"}
DIMENSION_ZH = {
    "all": "全市",
    "department": "认定部门",
    "domain": "行业领域",
    "division": "镇街/园区",
    "severity": "失信程度",
    "subject_type": "主体类别",
    "grade": "信用等级",
}
UNIT_ZH = {"records": "失信记录（条）", "subjects": "失信主体（户）"}
