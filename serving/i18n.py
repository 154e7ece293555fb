"""Words of the web pages in Thai (the default) and English."""

from __future__ import annotations

LANGUAGES = ("th", "en")
TEXT: dict[str, tuple[str, str]] = {
    "app": ("ระบบเฝ้าระวังนักเรียนเสี่ยงออกกลางคัน", "Dropout early warning"),
    "list": ("รายชื่อนักเรียนสัปดาห์นี้", "This week's list"),
    "plan": ("แผนเยี่ยมบ้าน", "Home-visit plan"),
    "sign_in": ("เข้าสู่ระบบ", "Sign in"),
    "sign_out": ("ออกจากระบบ", "Sign out"),
    "token": ("รหัสเข้าใช้งาน (token) สำหรับระบบที่เชื่อมต่อ", "Access token (integrations)"),
    "username": ("ชื่อผู้ใช้", "Username"),
    "password": ("รหัสผ่าน", "Password"),
    "or_token": ("หรือเข้าด้วยรหัสเข้าใช้งาน", "Or sign in with an access token"),
    "bad_sign_in": (
        "ชื่อผู้ใช้หรือรหัสผ่านไม่ถูกต้อง",
        "That username and password (or token) do not match an account",
    ),
    "too_many": (
        "พยายามเข้าสู่ระบบผิดหลายครั้งเกินไป กรุณารอสักครู่แล้วลองใหม่",
        "Too many failed attempts: wait a few minutes and try again",
    ),
    "change_password": ("ตั้งรหัสผ่านของคุณ", "Set your password"),
    "change_password_text": (
        "กรุณาตั้งรหัสผ่านใหม่ของคุณเอง (อย่างน้อย 10 ตัวอักษร)",
        "Choose your own password (at least 10 characters)",
    ),
    "current_password": ("รหัสผ่านปัจจุบัน", "Current password"),
    "new_password": ("รหัสผ่านใหม่", "New password"),
    "again_password": ("พิมพ์รหัสผ่านใหม่อีกครั้ง", "New password again"),
    "bad_current": ("รหัสผ่านปัจจุบันไม่ถูกต้อง", "The current password is not right"),
    "passwords_differ": ("รหัสผ่านใหม่ทั้งสองช่องไม่ตรงกัน", "The two new passwords differ"),
    "password_same": ("รหัสผ่านใหม่ต้องไม่ซ้ำกับรหัสเดิม", "The new password must differ from the old"),
    "password_short": ("รหัสผ่านต้องมีอย่างน้อย 10 ตัวอักษร", "A password needs at least 10 characters"),
    "rank": ("ลำดับ", "Rank"),
    "name": ("ชื่อ", "Name"),
    "class": ("ห้อง", "Class"),
    "risk": ("ความเสี่ยง", "Risk"),
    "vs_school": ("{}× ค่าเฉลี่ยของโรงเรียน", "{}× the school's average"),
    "reasons": ("เหตุผลหลัก", "Main reasons"),
    "step": ("สิ่งที่ควรทำต่อ", "Suggested next step"),
    "change": ("เทียบสัปดาห์ก่อน", "Since last week"),
    "last_help": ("การช่วยเหลือล่าสุด", "Last intervention"),
    "all": ("ทั้งหมด", "All"),
    "filter": ("กรอง", "Filter"),
    "download": ("ดาวน์โหลด CSV (Excel)", "Download CSV (Excel)"),
    "as_of": ("ข้อมูล ณ วันที่", "As of"),
    "none_yet": ("ยังไม่มี", "none yet"),
    "no_students": ("ไม่มีนักเรียนในรายการ", "No students on this list"),
    "history": ("ความเสี่ยงรายสัปดาห์", "Risk over the weeks"),
    "contributions": ("ปัจจัยที่เพิ่มหรือลดความเสี่ยง", "What pushes the risk up or down"),
    "glance": ("สรุปการมาเรียนและผลการเรียน", "Attendance and grades at a glance"),
    "interventions": ("การช่วยเหลือที่ผ่านมา", "Interventions so far"),
    "record": ("บันทึกการช่วยเหลือ", "Record an intervention"),
    "type": ("ประเภท", "Type"),
    "outcome": ("ผล", "Outcome"),
    "date": ("วันที่", "Date"),
    "save": ("บันทึก", "Save"),
    "capacity": ("จำนวนที่เยี่ยมได้ต่อสัปดาห์", "Visits the committee can make this week"),
    "set_capacity": ("ปรับ", "Update"),
    "mark_done": ("บันทึกการเยี่ยมบ้าน", "Record the visit"),
    "not_found": ("ไม่พบข้อมูล", "Not found"),
    "not_found_text": ("ไม่พบหน้าที่ต้องการ หรือคุณไม่มีสิทธิ์เข้าถึง", "There is nothing here you can see."),
    "no_student_data": (
        "บทบาทของคุณไม่มีสิทธิ์ดูข้อมูลรายบุคคลของนักเรียน",
        "Your role does not give access to individual students.",
    ),
    "no_run": ("ยังไม่มีผลการประเมินรายสัปดาห์", "No weekly run yet."),
    "absence_term": ("ขาดเรียนภาคเรียนนี้", "Absent this term"),
    "absence_20": ("ขาดเรียน 20 วันล่าสุด", "Absent, last 20 school days"),
    "gpa": ("เกรดเฉลี่ยภาคเรียนที่แล้ว", "GPA last term"),
    "failed": ("วิชาที่ได้ 0", "Subjects failed"),
    "missing_work": ("งานค้าง 4 สัปดาห์", "Missing work, 4 weeks"),
    "up": ("ความเสี่ยงเพิ่ม", "pushes risk up"),
    "down": ("ความเสี่ยงลด", "pushes risk down"),
}
TIERS = {"high": ("เสี่ยงสูง", "high risk"), "watch": ("เฝ้าระวัง", "watch"), "low": ("ปกติ", "low")}
CHANGES = {
    "new": ("ใหม่", "new"),
    "up": ("▲ เพิ่มขึ้น", "▲ up"),
    "down": ("▼ ลดลง", "▼ down"),
    "same": ("", ""),
}
INTERVENTIONS = {
    "home_visit": ("เยี่ยมบ้าน", "home visit"),
    "parent_meeting": ("พบผู้ปกครอง", "parent meeting"),
    "counselling": ("ให้คำปรึกษา", "counselling"),
    "tutoring": ("สอนเสริม", "tutoring"),
    "scholarship_referral": ("ส่งต่อทุนการศึกษา", "scholarship referral"),
    "health_referral": ("ส่งต่อด้านสุขภาพ", "health referral"),
    "external_referral": ("ส่งต่อหน่วยงานภายนอก", "external referral"),
    "other": ("อื่น ๆ", "other"),
}
OUTCOMES = {
    "done": ("สำเร็จ", "done"),
    "not_home": ("ไม่พบที่บ้าน", "not at home"),
    "refused": ("ปฏิเสธ", "refused"),
    "moved": ("ย้ายที่อยู่", "moved"),
    "other": ("อื่น ๆ", "other"),
}


def words(language: str) -> dict[str, str]:
    """Every page word in one language."""
    index = LANGUAGES.index(language) if language in LANGUAGES else 0
    return {key: pair[index] for key, pair in TEXT.items()}


def pick(table: dict[str, tuple[str, str]], key: str | None, language: str) -> str:
    if key is None:
        return ""
    pair = table.get(key)
    if pair is None:
        return key
    return pair[1] if language == "en" else pair[0]
