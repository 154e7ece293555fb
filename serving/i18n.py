"""Words of the web pages in Thai (the default) and English."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from core import clock
from schooldata.contract import SOURCES as CONTRACT_SOURCES

LANGUAGES = ("th", "en")


class Counted(str):
    """English words for a count of days: the singular for one ("1 day", "3 days")."""

    one: str

    def __new__(cls, many: str, one: str) -> Counted:
        text = super().__new__(cls, many)
        text.one = one
        return text

    def format(self, *args: object, **kwargs: object) -> str:
        if args and str(args[0]) == "1":
            return self.one.format(*args, **kwargs)
        return str.format(self, *args, **kwargs)


TEXT: dict[str, tuple[str, str]] = {
    "app": ("ระบบเฝ้าระวังนักเรียนเสี่ยงออกกลางคัน", "Dropout early warning"),
    "app_short": ("เฝ้าระวังออกกลางคัน", "Early warning"),
    "change_my_password": ("เปลี่ยนรหัสผ่าน", "Change my password"),
    "student_number": ("เลขประจำตัว", "Student no."),
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
    "no_reasons": ("สัปดาห์นี้ไม่มีสัญญาณเตือน", "No warning sign this week"),
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
    "bad_request": ("ใช้ค่าที่ส่งมาไม่ได้", "A value sent cannot be used"),
    "form_expired": ("แบบฟอร์มหมดอายุ", "The form has expired"),
    "open_again": ("เปิดหน้าเดิมอีกครั้ง", "Open the page again"),
    "not_found_text": ("ไม่พบหน้าที่ต้องการ หรือคุณไม่มีสิทธิ์เข้าถึง", "There is nothing here you can see."),
    "no_student_data": (
        "บทบาทของคุณไม่มีสิทธิ์ดูข้อมูลรายบุคคลของนักเรียน",
        "Your role does not give access to individual students.",
    ),
    "no_run": (
        "ยังไม่มีผลการประเมินรายสัปดาห์ เมื่อเจ้าหน้าที่ข้อมูลส่งไฟล์การมาเรียนและการลงทะเบียนแล้ว "
        "ระบบจะจัดทำรายชื่อในรอบประจำสัปดาห์ถัดไป (หรือผู้ดูแลระบบสั่ง ews score)",
        "No weekly run yet. Once the data officer has uploaded enrolments and attendance, the "
        "list is made at the next weekly run (or when an administrator runs ews score).",
    ),
    "absence_term": ("ขาดเรียนภาคเรียนนี้", "Absent this term"),
    "absence_20": ("ขาดเรียน 20 วันล่าสุด", "Absent, last 20 school days"),
    "gpa": ("เกรดเฉลี่ยภาคเรียนที่แล้ว", "GPA last term"),
    "term_gpa": ("เกรดเฉลี่ยของภาคเรียน", "GPA of the term"),
    "ranked_by": ("จัดลำดับโดย", "Ranked by"),
    "account": ("บัญชีของฉัน", "My account"),
    "weekly_message": ("ข้อความแจ้งรายชื่อประจำสัปดาห์", "The weekly message"),
    "weekly_message_text": (
        "เมื่อรายชื่อประจำสัปดาห์พร้อม ระบบจะส่งอีเมลสั้น ๆ บอกจำนวนนักเรียนของท่านที่เพิ่มเข้ารายชื่อหรือ"
        "ความเสี่ยงสูงขึ้น พร้อมลิงก์ ไม่มีชื่อหรือรหัสนักเรียนในข้อความ",
        "When the week's list is ready, a short e-mail tells you how many of your students "
        "are new on it or moved up, with a link. It never holds a student's name or code.",
    ),
    "weekly_message_officer": (
        "เมื่อรายชื่อประจำสัปดาห์ไม่ได้ประเมินโรงเรียนของท่านเพราะข้อมูลการมาเรียนเก่าเกินไป ระบบจะส่งอีเมล"
        "บอกวันที่ของข้อมูลล่าสุด พร้อมลิงก์หน้าส่งข้อมูล ไม่มีชื่อหรือรหัสนักเรียนในข้อความ",
        "When the week's list leaves your school out because its attendance is too old, an "
        "e-mail tells you the date of the newest attendance, with a link to the upload page. "
        "It never holds a student's name or code.",
    ),
    "email": ("อีเมล", "E-mail"),
    "send_me_messages": ("ส่งข้อความถึงฉัน", "Send me the message"),
    "email_invalid": (
        "อีเมลไม่ถูกต้อง (ตัวอย่าง name@school.ac.th)",
        "That is not an e-mail address (e.g. name@school.ac.th).",
    ),
    "saved": ("บันทึกแล้ว", "Saved."),
    "operations": ("การทำงานของระบบ", "Operations"),
    "audit_log": ("บันทึกการเข้าถึงข้อมูล", "Audit log"),
    "audit_intro": (
        "ใครอ่านหรือแก้ไขข้อมูลของนักเรียนคนใด เมื่อใด ใหม่สุดก่อน (เวลาประเทศไทย) เช่น เมื่อผู้ปกครอง"
        "ขอทราบว่าใครเห็นข้อมูลของบุตรหลานตาม พ.ร.บ.คุ้มครองข้อมูลส่วนบุคคล การเปิดหน้านี้ก็ถูกบันทึกด้วย",
        "Who read or changed which student's records, and when, newest first (Thai time): "
        "for a parent who asks who saw their child's records (PDPA). Opening this page is "
        "recorded too.",
    ),
    "audit_action": ("การกระทำ", "Action"),
    "audit_who": ("ผู้ใช้", "Who"),
    "audit_where": ("หน้าหรือคำสั่ง", "Page or command"),
    "audit_token_account": ("บัญชีเชื่อมต่อระบบ {}", "integration account {}"),
    "until_day": ("ถึงวันที่", "Until"),
    "audit_bad_day": (
        "วันที่ต้องอยู่ในรูปแบบ ปปปป-ดด-วว (ค.ศ.)",
        "Days are written YYYY-MM-DD.",
    ),
    "audit_none": ("ไม่มีรายการตามเงื่อนไขนี้", "No entries match."),
    "audit_shown": (
        "แสดง {} รายการล่าสุด (ไม่เกิน {} รายการ: ดาวน์โหลดไฟล์เพื่อดูทั้งหมด)",
        "{} newest entries shown (at most {}: the file holds them all).",
    ),
    "newest_list": ("รายชื่อล่าสุด", "Newest list"),
    "no_list_yet": ("ยังไม่มีรายชื่อ", "No list stored yet."),
    "next_run": ("รอบถัดไป", "Next weekly run"),
    "scheduler_off": (
        "ตัวตั้งเวลาปิดอยู่ (EWS_SCHEDULER=false): ต้องสั่ง ews score เอง",
        "The scheduler is off (EWS_SCHEDULER=false): run ews score by hand.",
    ),
    "run_takes": ("รอบหนึ่งใช้เวลาประมาณ {} วินาที", "A weekly run takes about {} s."),
    "seconds": ("{} วินาที", "{} s"),
    "messages_sent": (
        "ข้อความของรายชื่อล่าสุด: ส่งแล้ว {} ส่งไม่สำเร็จ {}",
        "Messages of the newest list: {} sent, {} failed.",
    ),
    "stale_schools": (
        "โรงเรียนที่ไม่ได้อยู่ในรอบล่าสุด (ข้อมูลไม่เป็นปัจจุบัน)",
        "Schools left out of the newest list (data not current)",
    ),
    "newest_attendance": ("ข้อมูลการมาเรียนล่าสุด", "Newest attendance"),
    "newest_coursework": ("คะแนนเก็บล่าสุด", "Newest coursework"),
    "newest_screening": ("การคัดกรองล่าสุด", "Newest screening"),
    "school_in_list": ("ข้อมูลของโรงเรียนในรายชื่อวันที่ {}", "Your school in the list of {}"),
    "school_scored": (
        "ประเมินความเสี่ยงแล้ว {} จาก {} คนที่ลงทะเบียนเรียน",
        "Scored: {} of the {} students enrolled.",
    ),
    "school_left_out": (
        "โรงเรียนไม่อยู่ในรายชื่อนี้: ข้อมูลการมาเรียนล่าสุดคือวันที่ {} หลังจากนั้นไม่มีบันทึกอีก {} "
        "วันเรียน ระบบไม่นับวันที่ไม่มีบันทึกเป็นวันขาดเรียน จึงยังไม่ประเมิน ส่งแบบบันทึกเวลาเรียนล่าสุด",
        "Your school is not in this list: its newest attendance is from {}, and {} school days "
        "since have no record. Days nobody recorded are not read as days absent, so the "
        "school was not scored. Send the newest registers:",
    ),
    "school_not_enrolled": (
        "รายชื่อนี้ไม่มีนักเรียนของโรงเรียนที่ลงทะเบียนในภาคเรียนนี้ ส่งรายชื่อนักเรียนรายห้องของภาคเรียนนี้",
        "This list has no student of your school enrolled in its term. Send the term's class "
        "lists:",
    ),
    "remade_on_upload": (
        "เมื่อยืนยันการส่งแล้ว ระบบจะจัดทำรายชื่อของโรงเรียนใหม่ทันที",
        "once they are loaded, the school's list is made again at once.",
    ),
    "remade_next_run": (
        "แล้วรายชื่อจะจัดทำใหม่ในการประเมินรอบถัดไป",
        "the list is made again at the next weekly run.",
    ),
    "list_remaking": (
        "กำลังจัดทำรายชื่อใหม่จากข้อมูลล่าสุด เปิดหน้านี้อีกครั้งในอีกสักครู่",
        "The list is being made again from the newest data: open this page again in a moment.",
    ),
    "list_remake_failed": (
        "การจัดทำรายชื่อครั้งล่าสุดไม่สำเร็จ (รหัสข้อผิดพลาด {}) แจ้งผู้ดูแลระบบ",
        "The latest run of the list failed (error id {}): tell the administrator.",
    ),
    "school_days_missing": ("วันเรียนที่ขาดข้อมูล", "School days missing"),
    "runs": ("รอบการทำงาน", "Runs"),
    "week": ("สัปดาห์", "Week"),
    "run_kind": ("ประเภท", "Kind"),
    "run_weekly": ("รอบประจำสัปดาห์", "weekly run"),
    "run_school": ("ทำใหม่เฉพาะโรงเรียน {}", "school {} again"),
    "attempt": ("ครั้งที่ {}", "attempt {}"),
    "status": ("สถานะ", "Status"),
    "started": ("เริ่มเมื่อ (เวลาไทย)", "Started (Bangkok)"),
    "took": ("ใช้เวลา", "Took"),
    "detail": ("รายละเอียด", "Detail"),
    "job_done": ("เสร็จ", "done"),
    "job_running": ("กำลังทำ", "running"),
    "job_skipped": ("ข้าม", "skipped"),
    "job_failed": ("ล้มเหลว", "failed"),
    "no_runs_yet": ("ยังไม่มีรอบที่ตัวตั้งเวลาทำ", "The scheduler has not run anything yet."),
    "abc_flags": ("สัญญาณเตือน {} จาก 3", "{} of 3 warning signs"),
    "ties_rule": (
        "นักเรียนที่มีคะแนนเท่ากัน: ผู้ที่ขาดเรียนมากกว่าใน 20 วันเรียนล่าสุดอยู่ก่อน แล้วจึงเป็นผู้ที่ไม่ได้มาเรียนนานกว่า",
        "Students with the same score: the one absent more in the last 20 school days "
        "first, then the one who has not been in school for longer.",
    ),
    "rule_explained": (
        "ยังไม่มีแบบจำลองที่ฝึกและผ่านการตรวจสำหรับโรงเรียนนี้ รายชื่อนี้จึงเรียงตามจำนวนสัญญาณเตือน "
        "(ขาดเรียนบ่อย ปัญหาพฤติกรรมจากการคัดกรอง ผลการเรียนไม่ผ่าน) แล้วตามอัตราการขาดเรียน "
        "แล้วตามผลการเรียนเฉลี่ยภาคเรียนที่แล้ว (ต่ำกว่าอยู่ก่อน) "
        "ตัวเลขเป็นจำนวนสัญญาณ ไม่ใช่ความน่าจะเป็น เมื่อมีแบบจำลองที่ผ่านการตรวจ ระบบจะใช้แทนในรอบถัดไป",
        "No model has been trained and passed its checks for this school yet, so this list "
        "is ordered by the number of warning signs (frequent absence, a behaviour concern "
        "from screening, failed courses), then by absence, then by last term's grade "
        "average (lower first). The figure is a count of signs, not a probability. The "
        "first sound model replaces the rule at the next weekly run.",
    ),
    "failed": ("วิชาที่ได้ 0", "Subjects failed"),
    "missing_work": ("งานค้าง 4 สัปดาห์", "Missing work, 4 weeks"),
    "upload": ("ส่งข้อมูล", "Upload"),
    "outcomes_short": ("ผลย้อนหลัง", "Past lists"),
    "area_short": ("ภาพรวมเขต", "Area"),
    # The area office
    "area": ("ภาพรวมโรงเรียนในเขตพื้นที่", "Schools of the area"),
    "area_intro": (
        "ตัวเลขรวมรายโรงเรียน ไม่แสดงชื่อนักเรียน ยกเว้นกรณีที่โรงเรียนส่งต่อหน่วยงานภายนอก",
        "Counts per school; no student's name except cases a school referred outside it.",
    ),
    "compared_with": ("เทียบกับ", "compared with"),
    "all_schools": ("รวม {} โรงเรียน", "All {} schools"),
    "stale_count": ("ข้อมูลไม่เป็นปัจจุบัน {} โรงเรียน", "{} with stale data"),
    "school": ("โรงเรียน", "School"),
    "scored": ("ประเมินแล้ว / ทั้งหมด", "Scored / enrolled"),
    "high_now": ("เสี่ยงสูง (เปลี่ยนแปลง)", "High risk (change)"),
    "watch_now": ("เฝ้าระวัง", "Watch"),
    "new_on_list": ("เข้ารายการใหม่", "New on the list"),
    "acted_30": ("เสี่ยงสูงที่ได้รับการช่วยเหลือใน 30 วัน", "High risk helped in 30 days"),
    "open_referrals": ("ส่งต่อที่ยังติดตาม", "Open referrals"),
    "data": ("ข้อมูล", "Data"),
    "fresh": ("เป็นปัจจุบัน", "up to date"),
    "stale_since": ("ข้อมูลไม่เป็นปัจจุบัน (เวลาเรียนล่าสุด {})", "stale (newest attendance {})"),
    "no_attendance": ("ไม่มีข้อมูลเวลาเรียน", "no attendance data"),
    "no_enrolments": (
        "ยังไม่ส่งรายชื่อนักเรียนของภาคเรียนนี้",
        "no enrolments of this term sent yet",
    ),
    "trend": ("แนวโน้ม 8 สัปดาห์ (เสี่ยงสูง + เฝ้าระวัง)", "8-week trend (high + watch)"),
    "returned_title": (
        "เด็กที่กลับมาเรียน (ติดตามต่อเนื่องทุกระดับความเสี่ยง)",
        "Children back at school (followed whatever their risk)",
    ),
    "returned_badge": ("กลับมาเรียน", "came back"),
    "returned_on": ("กลับมาเรียนเมื่อ", "Came back"),
    "left_on": ("ออกไปเมื่อ", "Had left"),
    "from_other_school": ("ออกจากโรงเรียนอื่น", "left another school"),
    "from_this_school": ("ออกจากโรงเรียนนี้", "left this school"),
    "left_again": ("ออกอีกครั้งเมื่อ", "Left again"),
    "not_on_list": ("ไม่อยู่ในรายชื่อสัปดาห์นี้", "not on this week's list"),
    "elsewhere_title": (
        "นักเรียนที่มาเรียนอีกโรงเรียนหนึ่งในภาคเรียนนี้ (ไม่อยู่ในรายชื่อสัปดาห์นี้)",
        "Your students at school at another school this term (not on this week's list)",
    ),
    "elsewhere_text": (
        "เด็กคนเดียวกันตามเลขประจำตัวประชาชนมีชื่ออยู่อีกโรงเรียนหนึ่งด้วย และมาเรียนที่นั่นในภาคเรียนนี้"
        " แต่ยังไม่มีการบันทึกว่ามาเรียนที่นี่ ถ้าเด็กย้ายมา จะขึ้นในรายชื่อเมื่อโรงเรียนบันทึกการมาเรียน"
        " ถ้าเด็กเรียนอยู่ในห้องนี้มาตลอด ให้เจ้าหน้าที่ข้อมูลตรวจเลขประจำตัวประชาชนของเด็ก",
        "The same child, by their national ID, is also enrolled at another school and was at"
        " school there this term, but not yet marked at school here. If they moved to you,"
        " they join your list once the school marks them at school; if they have been in"
        " your class all along, ask the data officer to check their national ID.",
    ),
    "schools_before": ("เคยเรียนที่", "Was a student at"),
    "schools_before_note": (
        "ประวัติจากโรงเรียนเดิมใช้ในการคำนวณความเสี่ยงเท่านั้น ไม่แสดงข้อมูลดิบ",
        "The earlier schools' records count in the risk only; they are not shown here",
    ),
    "earlier_records": (
        "ข้อมูลจากโรงเรียนเดิม (ได้รับอนุญาตจากเขตพื้นที่)",
        "Records of the earlier schools (granted by the area office)",
    ),
    "earlier_attendance": ("ขาดเรียน {} จาก {} วันที่มีบันทึก", "absent {} of {} recorded school days"),
    "request_history": (
        "ขอดูข้อมูลจากโรงเรียนเดิม (ผ่านเขตพื้นที่)",
        "Ask the area office for the earlier schools' records",
    ),
    "history_requested": (
        "ส่งคำขอข้อมูลจากโรงเรียนเดิมแล้ว รอเขตพื้นที่อนุมัติ",
        "Asked for the earlier schools' records: waiting for the area office",
    ),
    "history_declined": ("คำขอก่อนหน้าไม่ได้รับอนุมัติ", "the last request was not granted"),
    "history_requests": ("คำขอดูข้อมูลจากโรงเรียนเดิม", "Requests for earlier schools' records"),
    "student_code": ("รหัสนักเรียน", "Student code"),
    "grant": ("อนุญาต", "Grant"),
    "decline": ("ไม่อนุญาต", "Decline"),
    "returned_followed": ("เด็กกลับมาเรียนที่ติดตาม", "Returned, followed"),
    "returned_left_again": ("ออกอีกครั้ง", "left again"),
    "referred": ("นักเรียนที่โรงเรียนส่งต่อหน่วยงานภายนอก", "Students referred outside the school"),
    "no_referred": ("ไม่มีกรณีส่งต่อที่ยังติดตาม", "No open referral"),
    "exited": ("{} เมื่อ {}", "{} on {}"),
    "children_count": ("{} คน", "{} children"),
    "students_count": ("นักเรียน {} คน", "{} students"),
    "every_school": ("ทุกโรงเรียน", "Every school"),
    "stale_banner": (
        "ข้อมูลเวลาเรียนของโรงเรียนนี้ล่าสุดวันที่ {} ระบบจึงไม่ประเมินความเสี่ยงสัปดาห์นี้ "
        "เพื่อไม่ให้วันที่ยังไม่ได้บันทึกถูกนับเป็นวันขาดเรียน",
        "This school's newest attendance is from {}: this week's risks were not computed, so "
        "that days nobody recorded are not read as days absent.",
    ),
    "stale_send": (
        "ส่งแบบบันทึกเวลาเรียนล่าสุดที่หน้าส่งข้อมูล แล้วระบบจะจัดทำรายชื่อใหม่",
        "Send the newest registers on the upload page, and the list is made again.",
    ),
    "stale_ask": (
        "เมื่อเจ้าหน้าที่ข้อมูลของโรงเรียนส่งแบบบันทึกเวลาเรียนล่าสุดแล้ว ระบบจะจัดทำรายชื่อใหม่",
        "Once the school's data officer sends the newest registers, the list is made again.",
    ),
    # The analyst's pages
    "model": ("แบบจำลอง", "Model"),
    "champion": ("แบบจำลองที่ใช้งาน", "Champion"),
    "challenger": ("แบบจำลองที่รอเทียบ", "Challenger"),
    "no_challenger": ("ยังไม่มีแบบจำลองใหม่ที่รอเทียบ", "No newer version waiting"),
    "metrics": ("ผลบนช่วงทดสอบ เทียบกับเกณฑ์อย่างง่าย", "Test period, against simple baselines"),
    "metric": ("ตัวชี้วัด", "Metric"),
    "feature": ("ปัจจัย", "Feature"),
    "trees": ("ต้นไม้ {} ต้น", "{} trees"),
    "test_from": ("ช่วงทดสอบเริ่ม", "test from"),
    "guards": ("ข้อสังเกตจากการตรวจ", "Guards"),
    "fairness_flags": ("ข้อสังเกตด้านความเป็นธรรม", "Fairness flags"),
    "recall": ("อัตราที่พบ", "recall"),
    "false_positives": ("อัตราแจ้งเตือนผิด", "false positives"),
    "precision": ("ความแม่นยำ", "precision"),
    "missing_then_now": ("ข้อมูลขาด ตอนฝึก → ตอนนี้", "missing then → now"),
    "forced": ("บังคับ", "forced"),
    "best_bold": ("ตัวหนา: ดีที่สุดในแถว", "bold: the best of the row"),
    "plots": ("กราฟ", "Plots"),
    "fairness": (
        "ความเป็นธรรม (อัตราส่วนเทียบกลุ่มอ้างอิง พร้อมช่วงความเชื่อมั่น 95%)",
        "Fairness (ratio to the reference group, 95% interval)",
    ),
    "group": ("กลุ่ม", "Group"),
    "found_by_group": (
        "พบทันเวลาแยกตามกลุ่ม: แผนเยี่ยมบ้านรายสัปดาห์ของแต่ละโรงเรียนตามจำนวนที่เยี่ยมได้ "
        "ไม่ซ้ำคนที่เยี่ยมแล้วใน 30 วัน (ของผู้ที่ออก พร้อมช่วงความเชื่อมั่น 95%)",
        "Found in time by group: each school's weekly home-visit plans at its capacity, "
        "leaving out whom it visited in the last 30 days (of those who left, with 95% "
        "intervals)",
    ),
    "weeks_ahead_4": ("ล่วงหน้า 4 สัปดาห์ขึ้นไป", "4+ weeks ahead"),
    "weeks_ahead_8": ("ล่วงหน้า 8 สัปดาห์ขึ้นไป", "8+ weeks ahead"),
    "median_lead": ("มัธยฐานสัปดาห์ที่พบก่อนออก", "Median weeks ahead"),
    "students": ("นักเรียน", "Students"),
    "drift": ("ข้อมูลสัปดาห์นี้เทียบข้อมูลที่ใช้ฝึก", "This week's inputs against training"),
    "drift_older": (
        "สัปดาห์ล่าสุด ({}) ไม่มีข้อมูลช่วงเดียวกันในปีที่ใช้ฝึกให้เทียบ "
        "(หรือเป็นสัปดาห์ปิดภาคเรียน ซึ่งนักเรียนที่จบการศึกษาออกไปแล้ว) จึงแสดงสัปดาห์ {}",
        "The newest week ({}) has no matching weeks in the training reference (or is the "
        "week a term ends, after the graduates have left); showing {}",
    ),
    "no_drift": ("ยังไม่มีผลเทียบ", "No comparison yet"),
    "promotions": ("ประวัติการเลื่อนแบบจำลอง", "Promotion history"),
    "decision": ("ผล", "Decision"),
    "version": ("รุ่น", "Version"),
    "when": ("เมื่อ", "When"),
    "why": ("เหตุผล", "Why"),
    "outcomes": ("รายการที่ผ่านมาเทียบกับสิ่งที่เกิดขึ้นจริง", "Past lists against what happened"),
    "outcomes_intro": (
        "เมื่อครบระยะติดตามแล้ว: นักเรียนที่ออกกลางคัน มีกี่คนที่อยู่ในรายการก่อนออก "
        "ล่วงหน้ากี่สัปดาห์ และนักเรียนที่อยู่ในรายการได้รับการช่วยเหลือกี่คน",
        "Once a week's horizon has passed: of the students who left, how many were on the "
        "list before leaving, how many weeks ahead, and how many listed students were helped.",
    ),
    "outcomes_plans": (
        "แผนเยี่ยมบ้าน: แต่ละสัปดาห์ โรงเรียนเยี่ยมได้ตามจำนวนที่กำหนด เรียงตามรายการ "
        "โดยข้ามนักเรียนที่อยู่ในแผนแล้วในช่วง 30 วันก่อน เหมือนที่คณะกรรมการทำงานจริง",
        "Home-visit plan: each week, the school's capacity in the list's order, leaving out "
        "whom the plan took in the 30 days before, as a committee works through it.",
    ),
    "planned_in_time": (
        "อยู่ในแผนเยี่ยมบ้านล่วงหน้า 4 สัปดาห์ขึ้นไป",
        "On a home-visit plan 4+ weeks ahead",
    ),
    "planned_8w": ("อยู่ในแผนเยี่ยมบ้านล่วงหน้า 8 สัปดาห์ขึ้นไป", "On a home-visit plan 8+ weeks ahead"),
    "term": ("ภาคเรียน", "Term"),
    "weeks": ("สัปดาห์", "Weeks"),
    "left": ("ออกกลางคัน", "Left"),
    "found": ("อยู่ในรายการก่อนออก", "On the list before leaving"),
    "found_in_time": ("ล่วงหน้า 4 สัปดาห์ขึ้นไป", "4+ weeks ahead"),
    "missed": ("ไม่อยู่ในรายการ", "Missed"),
    "lead": ("ล่วงหน้า (มัธยฐาน สัปดาห์)", "Lead time (median weeks)"),
    "flagged": ("อยู่ในรายการ", "Listed"),
    "helped": ("ได้รับการช่วยเหลือ", "Helped"),
    "backfilled": (
        "{} สัปดาห์ประเมินย้อนหลังด้วยแบบจำลองที่อาจเคยเห็นข้อมูลช่วงนั้น ตัวเลขจึงดีเกินจริง",
        "{} weeks were scored after the fact, by a model that may have been trained on them: "
        "their figures flatter it",
    ),
    "no_outcomes": (
        "ยังไม่มีรายการที่ครบระยะติดตาม (ดูได้หลังสัปดาห์ของรายการผ่านไปครบระยะที่แบบจำลองทำนาย)",
        "No list has matured yet (a week's list is judged once its horizon has passed).",
    ),
    "by_school": ("รายโรงเรียน", "By school"),
    # The admin's page
    "admin": ("จัดการบัญชีผู้ใช้", "Accounts"),
    "role": ("บทบาท", "Role"),
    "scope": ("ขอบเขต", "Scope"),
    "active": ("ใช้งาน", "Active"),
    "create_account": ("สร้างบัญชี", "Create an account"),
    "unassigned_classrooms": (
        "ห้องเรียนที่ยังไม่มีครูที่ปรึกษาในระบบ",
        "Classrooms without an advisor account",
    ),
    "unassigned_help": (
        "ไฟล์ลงทะเบียน (DMC) ไม่มีรหัสครูที่ปรึกษา นักเรียนจึงถูกจัดตามห้องเรียน "
        "สร้างบัญชีครูประจำชั้นให้แต่ละห้องเพื่อให้ครูเห็นรายชื่อของห้องนั้น",
        "The enrolment file (DMC) names no advisor, so these students are listed by "
        "classroom: create the classroom advisor's account to give them the list.",
    ),
    "classroom_group": ("กลุ่มห้องเรียน", "Classroom group"),
    "give_classroom": ("สร้างบัญชีครูของห้องนี้", "Create its advisor's account"),
    "every_classroom": (
        "สร้างบัญชีครูประจำชั้นให้ทุกห้องในคราวเดียว ({} ห้อง)",
        "Create an advisor's account for every classroom at once ({})",
    ),
    "classroom_advisor": ("ครูประจำชั้น {}", "Advisor of {}"),
    "issued_title": ("สร้างบัญชีครูประจำชั้นแล้ว {} บัญชี", "{} advisor accounts created"),
    "issued_help": (
        "พิมพ์หรือจดหน้านี้ไว้ส่งให้ครูแต่ละห้อง รหัสผ่านชั่วคราวแสดงครั้งเดียว ครูต้องเปลี่ยนรหัสผ่านเมื่อเข้าสู่ระบบครั้งแรก",
        "Print or copy this sheet for each classroom's teacher: the temporary passwords "
        "are shown once, and each is changed at first sign-in.",
    ),
    "temporary_password": ("รหัสผ่านชั่วคราว", "Temporary password"),
    "your_name": ("ชื่อที่แสดงในระบบ", "Your name as the pages show it"),
    "staff_id": ("รหัสครูที่ปรึกษา (advisor_id)", "Advisor code (advisor_id)"),
    "schools_field": ("โรงเรียนที่ติดตาม (คั่นด้วย ,)", "Schools followed (comma-separated)"),
    "province": (
        "หรือทั้งจังหวัด (รวมโรงเรียนที่ส่งข้อมูลภายหลัง)",
        "or a whole province (its schools that send files later too)",
    ),
    "province_scope": ("จังหวัด", "Province"),
    "add_school": ("เพิ่มสถานศึกษา", "Add a school"),
    "schools_in_data": ("มีในข้อมูลแล้ว {} แห่ง", "{} in the data"),
    "add_school_help": (
        "สถานศึกษาที่ยังไม่เคยส่งไฟล์ใด ๆ ต้องเพิ่มที่นี่ก่อน จึงจะสร้างบัญชีของสถานศึกษานั้นได้ "
        "ไฟล์ที่ส่งภายหลังจะปรับข้อมูลสถานศึกษาให้ครบเอง",
        "A school that has sent no file yet is added here first, so that its accounts can "
        "be made; the files it sends later complete its details.",
    ),
    "school_code": ("รหัสสถานศึกษา", "School code"),
    "school_name": ("ชื่อสถานศึกษา", "School name"),
    "affiliation": ("สังกัด", "Governing body"),
    "urban_rural": ("ในเมืองหรือชนบท", "Urban or rural"),
    "school_added": (
        "เพิ่มสถานศึกษา {} แล้ว สร้างบัญชีของสถานศึกษานี้ได้",
        "School {} added: its accounts can be made now.",
    ),
    "reset_password": ("ตั้งรหัสผ่านชั่วคราว", "Reset password"),
    "deactivate": ("ปิดบัญชี", "Deactivate"),
    "renew_title": ("โทเค็นที่ระบบเชื่อมต่อใช้อยู่ใกล้หมดอายุ ({})", "Tokens in use that expire soon ({})"),
    "renew_help": (
        "ระบบที่เชื่อมต่อกับบริการนี้ (เช่น ระบบดูแลช่วยเหลือของโรงเรียน) ใช้งานไม่ได้ทันทีที่โทเค็นหมดอายุ "
        "โทเค็นเหล่านี้ถูกใช้ใน {0} วันที่ผ่านมาและหมดอายุภายใน {0} วัน (หรือหมดอายุแล้ว): "
        "ออกโทเค็นใหม่บนเซิร์ฟเวอร์ด้วยคำสั่งในตาราง แล้วนำโทเค็นใหม่ไปใส่ในระบบที่เชื่อมต่อ "
        "โทเค็นเดิมใช้ไม่ได้ทันทีที่ออกใหม่",
        "A system connected to this service (the school's own student-care system, say) stops "
        "working the moment its token expires. These tokens were used in the last {0} days "
        "and expire within {0} days (or have): give each a new token with the command in the "
        "table, on the server, and put the new token in the connected system. The old token "
        "stops working at once.",
    ),
    "token_expires": ("หมดอายุ", "Expires"),
    "token_expired_on": ("หมดอายุแล้วเมื่อ", "expired on"),
    "token_used": ("ใช้ล่าสุด", "Last used"),
    "renew_command": ("คำสั่งออกโทเค็นใหม่", "New token by"),
    "deactivate_confirm": (
        "ปิดบัญชีของ {} ใช่หรือไม่ ผู้ใช้จะออกจากระบบทันที",
        "Deactivate {}'s account? They are signed out at once.",
    ),
    "deactivate_yes": ("ยืนยันปิดบัญชี", "Yes, deactivate"),
    "choose_outcome": ("— เลือกผลการเยี่ยม —", "— choose the outcome —"),
    "form_sent_again": (
        "แบบฟอร์มนี้ส่งไปแล้ว: บันทึกที่ทำไว้แสดงอยู่ในหน้านี้ หากจะบันทึกรายการใหม่ให้กรอกอีกครั้ง",
        "This form was sent already: its record is on this page; fill it in again for a new one.",
    ),
    "recorded_visit": ("บันทึกการเยี่ยมบ้านของ {} แล้ว ผล: {}", "Recorded the home visit of {}: {}"),
    "recorded_help": ("บันทึก{}ของ {} แล้ว", "Recorded {} for {}"),
    "undo": ("ยกเลิกการบันทึกนี้", "Undo"),
    "undo_until": ("ยกเลิกได้ภายใน {} นาที", "can be undone for {} minutes"),
    "undone": ("ยกเลิกการบันทึกแล้ว", "The record was withdrawn."),
    "yes": ("ใช่", "yes"),
    "no": ("ไม่", "no"),
    "temporary_for": (
        "รหัสผ่านชั่วคราวของ {} (แสดงครั้งเดียว ผู้ใช้ต้องเปลี่ยนเมื่อเข้าสู่ระบบครั้งแรก): ",
        "Temporary password of {} (shown once; to change at first sign-in): ",
    ),
    "deactivated": (
        "ปิดบัญชี {} แล้ว ทุกการเข้าใช้งานของบัญชีนี้สิ้นสุดทันที",
        "Account {} is deactivated; its sessions and token stop working now.",
    ),
    "sso": ("เข้าสู่ระบบด้วยบัญชีของหน่วยงาน", "Sign in with your organisation's account"),
    "sso_unknown": (
        "บัญชีของหน่วยงานนี้ยังไม่ได้ผูกกับผู้ใช้ในระบบ กรุณาติดต่อผู้ดูแลระบบ",
        "That organisation account is not linked to a user here: ask your administrator.",
    ),
    "context_factors": (
        "ปัจจัยพื้นฐานที่โรงเรียนเปลี่ยนไม่ได้ (ระดับชั้น โรงเรียน ประวัติการย้ายโรงเรียน) รวมกัน",
        "Context the school cannot change (grade level, school, past moves), together",
    ),
    "up": ("ความเสี่ยงเพิ่ม", "pushes risk up"),
    "down": ("ความเสี่ยงลด", "pushes risk down"),
    # Intervention effects on the model page
    "effects": ("ผลของการช่วยเหลือแต่ละแบบ", "What each kind of help does"),
    "effects_help": (
        "การเปลี่ยนแปลงของโอกาสออกกลางคันในนักเรียนที่ได้รับการช่วยเหลือ (−0.010 คือออกน้อยลง "
        "1 คนต่อ 100 คนที่ได้รับ) แต่ละแถวคือผลของการช่วยเหลือทั้งหมดในภาคเรียนนั้นของนักเรียนที่ได้รับ"
        "การช่วยเหลือแบบนั้น เทียบกับนักเรียนที่ไม่ได้รับการช่วยเหลือใดเลยในภาคเรียนเดียวกัน "
        "ประมาณแบบ doubly robust พร้อมช่วงความเชื่อมั่น 95%",
        "Change in the chance of leaving among the students helped (−0.010: one fewer in a "
        "hundred helped). Each row is what all of a term's help did for the students whose "
        "help that term included this kind, against students given none that term; doubly "
        "robust, with a 95% interval.",
    ),
    "help_type": ("การช่วยเหลือ", "Help"),
    "left_share": ("ออกกลางคัน", "Left"),
    "effect": ("ผล [ช่วง 95%]", "Effect [95% interval]"),
    "simulated": ("ค่าจริงในข้อมูลจำลอง", "Simulated truth"),
    "overlap": ("มีกลุ่มเทียบ", "Overlap"),
    "usable": ("ใช้ได้", "usable"),
    "no_effects": (
        "ยังไม่ได้ประมาณผลของการช่วยเหลือ (ews effects)",
        "No effect estimate yet (run ews effects).",
    ),
    "e_value": ("ความไวต่อปัจจัยที่ไม่ได้บันทึก", "Sensitivity (E-value)"),
    "e_value_help": (
        "ค่าประมาณเหล่านี้ถูกต้องเมื่อเหตุที่โรงเรียนเลือกช่วยเหลือนักเรียนถูกบันทึกไว้ในข้อมูล "
        "ค่า E บอกว่าเหตุที่ไม่ได้บันทึกต้องสัมพันธ์กับทั้งการช่วยเหลือและการออกกลางคันแรงเพียงใด "
        "(อัตราส่วนความเสี่ยง) จึงจะลบล้างผลได้ ค่า 1 คือช่วงครอบคลุมศูนย์อยู่แล้ว",
        "These estimates hold if what made the school act is in its records. The E-value is "
        "how strongly (as a risk ratio with both the action and leaving) a reason nobody "
        "recorded would have to act to explain the effect away; 1 means the interval already "
        "holds no effect.",
    ),
    "page": ("หน้า", "Page"),
    "previous_page": ("ก่อนหน้า", "Previous"),
    "next_page": ("ถัดไป", "Next"),
    # The benefit order (model page and plan)
    "benefit_order": ("ลำดับตามประโยชน์ของการเยี่ยมบ้าน", "Plan by the benefit of a visit"),
    "benefit_order_help": (
        "นอกจากลำดับตามความเสี่ยง คณะกรรมการของโรงเรียนที่เปิดไว้จะเห็นลำดับตามประโยชน์ที่คาดว่าการเยี่ยมบ้าน"
        "จะช่วยลดโอกาสออกกลางคันได้ (ครอบครัวที่กำลังย้ายออกไม่ได้รับประโยชน์จากการเยี่ยม และเมื่อผลการเยี่ยมที่ผ่านมา"
        "แสดงว่าการเยี่ยมช่วยนักเรียนที่มีปัญหาการมาเรียนหรือครอบครัวได้มากกว่า ลำดับนี้นับส่วนนั้นด้วย) ทั้งสองลำดับแสดง"
        "คู่กันพร้อมเหตุผล ลำดับตามความเสี่ยงยังเป็นค่าเริ่มต้น เปิดเฉพาะโรงเรียนที่ท่านได้อ่านผลประมาณแล้ว",
        "Besides the risk order, the committees of the schools turned on here see the students "
        "a home visit is expected to help most (a family about to move away is not helped by "
        "a visit; where past visits show that a visit helps students with attendance or family "
        "trouble more, the order counts that too). Both orders are shown side by side with "
        "their reasons; the risk order "
        "stays first. Turn it on for a school once you have read the estimates above.",
    ),
    "benefit_none": (
        "ยังไม่มีแบบจำลองประโยชน์ของการเยี่ยมบ้าน",
        "There is no benefit model to order by.",
    ),
    "benefit_on": ("เปิด", "On"),
    "benefit_off": ("ปิด", "Off"),
    "turn_on": ("เปิดใช้", "Turn on"),
    "turn_off": ("ปิดการใช้", "Turn off"),
    "since": ("ตั้งแต่", "Since"),
    "by_risk": ("ตามความเสี่ยง (ลำดับปกติ)", "By risk (the usual order)"),
    "by_benefit": ("ตามประโยชน์ที่คาดว่าการเยี่ยมบ้านจะช่วยได้", "By the expected benefit of a visit"),
    "by_benefit_help": (
        "ผู้วิเคราะห์เปิดลำดับนี้ให้โรงเรียนของท่าน จากผลการเยี่ยมบ้านที่ผ่านมา ({effect} ต่อการเยี่ยม 1 ครั้ง) "
        "ลำดับตามความเสี่ยงเลือกผู้ที่มีโอกาสออกมากที่สุด ลำดับนี้เลือกผู้ที่การเยี่ยมน่าจะช่วยได้มากที่สุด "
        "ทั้งสองอย่างเป็นการประมาณ โปรดใช้วิจารณญาณของคณะกรรมการ",
        "An analyst turned this order on for your school, from what past home visits did "
        "({effect} per visit). The risk order puts first who is most likely to leave; this one "
        "puts first whom a visit is most likely to help. Both are estimates: the committee "
        "decides.",
    ),
    "visit_lowers": (
        "การเยี่ยมคาดว่าลดโอกาสออกได้",
        "A visit is expected to lower the chance of leaving by",
    ),
    "points": ("จุด", "points"),
    "addressable": (
        "โอกาสออกด้วยเหตุที่การเยี่ยมช่วยได้",
        "Chance of leaving for a reason a visit can address",
    ),
    "benefit_why": ("สิ่งที่ทำให้การเยี่ยมน่าจะช่วยได้", "Why a visit may help"),
    # The upload page
    "upload_title": ("ส่งข้อมูลของสถานศึกษา", "Upload your school's data"),
    "upload_help": (
        "เลือกไฟล์ที่โรงเรียนมีอยู่ (Excel, LibreOffice หรือ CSV หัวคอลัมน์ภาษาไทยหรืออังกฤษ "
        "รายชื่อนักเรียนแต่ละห้อง แบบบันทึกเวลาเรียนรายเดือน แบบบันทึกผลการเรียนก็ได้ "
        "เลือกได้หลายไฟล์พร้อมกัน เช่น ห้องละไฟล์) "
        "ระบบจะตรวจให้ดูก่อน ยังไม่บันทึกจนกว่าจะยืนยัน",
        "Choose the files your school keeps (Excel, LibreOffice or CSV, Thai or English "
        "headers; class lists, monthly attendance registers and grade books too, as many "
        "as you like, such as one per classroom). They are checked first; nothing is saved "
        "until you confirm.",
    ),
    "choose_files": ("ไฟล์ข้อมูล", "Files"),
    "unread_columns": (
        "คอลัมน์ที่ระบบไม่ได้อ่าน (ค่าในคอลัมน์เหล่านี้จะไม่ถูกบันทึก)",
        "Columns not read (their values will not be kept)",
    ),
    "unread_help": (
        "หากต้องการเก็บค่าเหล่านี้ ให้ตั้งหัวคอลัมน์ตามพจนานุกรมข้อมูล "
        "ในไฟล์ของข้อมูลชนิดนั้น (เช่น ระยะทางถึงโรงเรียน อยู่ในไฟล์ข้อมูลครัวเรือน)",
        "To keep these values, give each column its header from the data dictionary, in the "
        "file of the data it belongs to (the distance to school is in the household file).",
    ),
    "check_files": ("ตรวจไฟล์", "Check the files"),
    "file": ("ไฟล์", "File"),
    "source": ("ข้อมูล", "Data"),
    "rows_read": ("แถวที่อ่าน", "Rows read"),
    "rows_to_load": ("แถวที่จะบันทึก", "Rows to load"),
    "rows_loaded": ("แถวที่บันทึกแล้ว", "Rows loaded"),
    "rows_rejected": ("แถวที่ไม่รับ", "Rows rejected"),
    "values_blanked": ("ค่าที่เว้นว่าง", "Values blanked"),
    "covers": ("ช่วงของข้อมูล", "Covers"),
    "refused_file": ("ไม่รับทั้งไฟล์", "file refused"),
    "confirm_load": ("ยืนยันบันทึกข้อมูล", "Confirm and load"),
    "cancel": ("ยกเลิก", "Cancel"),
    "loaded_notice": ("บันทึกข้อมูลแล้ว", "Loaded"),
    "missing_opened": (
        "เพิ่มเด็ก {} คนในรายการเด็กที่ต้องติดตาม: นักเรียนภาคเรียนก่อนที่ไม่พบการลงทะเบียนที่ใดในภาคเรียนนี้",
        "{} children added to the children to find: enrolled last term and enrolled nowhere now",
    ),
    "last_upload": ("ข้อมูลที่ส่งล่าสุด", "Latest upload"),
    "rows_word": ("แถว", "rows"),
    "undo_upload": ("ย้อนการส่งครั้งนี้", "Undo this upload"),
    "undo_help": (
        "ส่งไฟล์ผิด (ผิดภาคเรียน ผิดห้อง หรือไม่ใช่ของโรงเรียนนี้) ย้อนได้: "
        "ข้อมูลของโรงเรียนจะกลับเป็นเหมือนก่อนส่งครั้งนี้ แล้วจึงส่งไฟล์ที่ถูกต้อง "
        "บันทึกการเยี่ยมบ้านและบันทึกอื่นที่ครูเขียนในระบบยังอยู่ครบ",
        "Sent the wrong files (another term, another room, another school's)? Undo it: "
        "the school's records go back to how they were before this upload; then send the "
        "right ones. Visits and notes written in the service are kept.",
    ),
    "undo_gone": (
        "ย้อนการส่งครั้งนี้ไม่ได้ เพราะหลังจากนั้นมีการนำเข้าข้อมูลของโรงเรียนทางอื่น "
        "หรือระบบเก็บข้อมูลไว้ในชุดข้อมูล (dataset) กรุณาส่งไฟล์ที่ถูกต้องแทน",
        "This upload cannot be undone: the school's records were loaded another way since, "
        "or the service keeps them in a dataset. Send the right files instead.",
    ),
    "undone_notice": (
        "ย้อนการส่งแล้ว ข้อมูลของโรงเรียนกลับเป็นเหมือนก่อนส่งครั้งนั้น",
        "Undone: the school's records are as they were before that upload.",
    ),
    "problems": (
        "ปัญหาที่พบในไฟล์: แถวที่ไม่รับ ค่าที่เว้นว่าง แก้ หรือไม่เชื่อมโยง",
        "Problems found in the files: rows rejected, values blanked, corrected or not linked",
    ),
    "no_problems": ("ไม่พบปัญหาในไฟล์", "No problem found in the files."),
    "line": ("บรรทัด", "Line"),
    "column": ("คอลัมน์", "Column"),
    "value": ("ค่า", "Value"),
    "reason": ("เหตุผล", "Reason"),
    "what_happens": ("ผล", "What happens"),
    "rejected": ("ไม่รับทั้งแถว", "row rejected"),
    "blanked": ("เว้นว่างค่านี้ เก็บแถวไว้", "value blanked, row kept"),
    "corrected": ("แก้ค่านี้ เก็บแถวไว้", "value corrected, row kept"),
    "ids_to_correct": (
        "นักเรียน {} คนมีเลขประจำตัวประชาชนซ้ำกับนักเรียนคนอื่น ต้องแก้",
        "{} students share a national ID with another student: to correct",
    ),
    "not_linked": ("เก็บแถวไว้ ไม่เชื่อมโยงด้วยเลขนี้", "row kept, not linked by this ID"),
    # The missing children's worklist (``serving.worklist``).
    "missing": ("เด็กที่ต้องติดตาม", "Children to find"),
    "missing_short": ("เด็กที่ต้องติดตาม", "To find"),
    "missing_intro": (
        "เด็กที่ลงทะเบียนในภาคเรียนก่อนแต่ไม่พบการลงทะเบียนที่ใดในภาคเรียนนี้ "
        "และเด็กที่จบ ป.6 หรือ ม.3 แต่ไม่พบการลงทะเบียนในปีการศึกษาถัดไป "
        "รายการจะปิดเองเมื่อพบเด็กลงทะเบียนเรียน ที่โรงเรียนเดิมหรือโรงเรียนอื่น",
        "Children enrolled last term and enrolled nowhere this term, and P6 or M3 "
        "graduates enrolled nowhere the next year. A case closes by itself when the "
        "child is found enrolled, here or at another school.",
    ),
    "kind_left": ("ไม่พบในภาคเรียนถัดไป", "not at school next term"),
    "kind_transition": ("ไม่ศึกษาต่อหลังจบชั้นรอยต่อ", "did not go on after the transition grade"),
    "missing_term": ("ภาคเรียนที่ไม่พบ", "Term not found in"),
    "last_seen": ("ลงทะเบียนล่าสุด", "Last enrolled"),
    "days_open": ("ติดตามมาแล้ว", "Open for"),
    "days": ("{} วัน", Counted("{} days", one="{} day")),
    "owner": ("ผู้ติดตาม", "Followed by"),
    "nobody": ("ยังไม่มี", "nobody yet"),
    "show_open": ("ยังไม่ปิด ปีการศึกษานี้", "Open this school year"),
    "older_open": (
        "ยังมีรายการที่ยังไม่ปิดจากก่อนปีการศึกษานี้อีก {} รายการ",
        "{} cases from before this school year are still open",
    ),
    "show_all": ("ทั้งหมด", "All cases"),
    "no_cases": ("ไม่มีเด็กที่ต้องติดตามในขณะนี้", "No child to find just now"),
    "findings_file": ("ส่งผลการติดตามเป็นไฟล์", "Upload findings as a file"),
    "findings_help": (
        "ดาวน์โหลดรายการที่ยังไม่ปิดของคุณ กรอกสถานะ สาเหตุ ความช่วยเหลือที่ต้องการ "
        "หน่วยงานที่ส่งต่อ สถานศึกษาที่พบ วันที่พบหรือกลับเข้าเรียน และบันทึก แล้วส่งไฟล์กลับมา "
        "(.xlsx .ods .csv หรือ .txt ข้อความ Unicode) แถวที่ไม่แก้ไขจะไม่เปลี่ยนแปลง "
        "และไม่ย้อนสิ่งที่ผู้อื่นบันทึกหลังดาวน์โหลด (อย่าแก้คอลัมน์รหัสฉบับ)",
        "Download your open cases, fill in the status, reason, help needed, agency, school "
        "found at, date found or back and a note, and send the file back (.xlsx, .ods, .csv "
        "or .txt Unicode Text); rows left as they were change nothing and never undo what "
        "others recorded after the download (leave the version column as it is)",
    ),
    "findings_xlsx": ("ดาวน์โหลดรายการเพื่อกรอกผล (Excel)", "Download the cases to fill in (Excel)"),
    "findings_csv": ("ดาวน์โหลดรายการเพื่อกรอกผล (CSV)", "Download the cases to fill in (CSV)"),
    "send": ("ส่ง", "Send"),
    "applied": ("บันทึกผลการติดตามแล้ว {} รายการ", "{} cases updated"),
    "file_problems": ("แถวที่บันทึกไม่ได้ในไฟล์ {}", "Rows of {} not recorded"),
    "report_xlsx": ("ดาวน์โหลดรายงาน (Excel)", "Download the report (Excel)"),
    "report_csv": ("ดาวน์โหลดรายงาน (CSV)", "Download the report (CSV)"),
    "counts_by_school": ("จำนวนรายการแยกตามโรงเรียน", "Cases by school"),
    "to_find": ("ต้องติดตาม", "To find"),
    "open_by_age": ("ยังไม่ปิด ตามระยะเวลา", "Open, by how long"),
    "age_under_30": ("ยังไม่ปิด ไม่ถึง 30 วัน", "open under 30 days"),
    "age_30_to_90": ("ยังไม่ปิด 30-90 วัน", "open 30-90 days"),
    "age_over_90": ("ยังไม่ปิด เกิน 90 วัน", "open over 90 days"),
    "no_referred_cases": (
        "ยังไม่มีเด็กที่โรงเรียนส่งต่อหน่วยงานหรือไม่พบตัว",
        "No school has referred a child outside or not found one yet",
    ),
    "referred_cases": ("เด็กที่ส่งต่อหน่วยงานหรือไม่พบตัว", "Children referred outside or not found"),
    "case": ("รายการติดตาม", "Child to find"),
    "case_number": ("เลขที่รายการ", "Case no."),
    "reason_left": ("สาเหตุการออก", "Reason for leaving"),
    "unknown_yet": ("ยังไม่ทราบ", "not known yet"),
    "help_needed": ("ความช่วยเหลือที่ต้องการ", "Help needed"),
    "agency": ("หน่วยงานที่ส่งต่อ", "Referred to"),
    "found_school": ("สถานศึกษาที่พบหรือจะกลับเข้าเรียน", "School found at or returning to"),
    "found_on": ("วันที่พบหรือกลับเข้าเรียน", "Date found or returning"),
    "note": ("บันทึก", "Note"),
    "notes": ("บันทึกการติดตาม", "Notes"),
    "notes_private": (
        "บันทึกเห็นได้เฉพาะผู้เขียนและผู้ติดตามรายการนี้",
        "Notes are read only by their author and whoever follows the case",
    ),
    "no_notes": ("ยังไม่มีบันทึกที่คุณเห็นได้", "No note you may read"),
    "record_finding": ("บันทึกผลการติดตาม", "Record what was found"),
    "closed_by_records": (
        "รายการนี้ปิดแล้วตามข้อมูลการลงทะเบียน",
        "The enrolment records closed this case",
    ),
    "closed_on": ("ปิดเมื่อ", "Closed on"),
    "back_to_missing": ("กลับไปที่รายการเด็กที่ต้องติดตาม", "Back to the children to find"),
    "choose": ("เลือก", "Choose"),
    # Follow-through (``serving.cases``).
    "plan_began": ("เริ่มแผน", "plan began"),
    "chair_field": (
        "ประธานคณะกรรมการดูแลช่วยเหลือ (อ่านบันทึกด้านการคุ้มครองเด็กและสุขภาพได้)",
        "Chairs the care committee (reads protection and health notes)",
    ),
    "case_heading": ("แผนการช่วยเหลือ", "Support plan"),
    "open_case": ("เปิดแผนการช่วยเหลือ", "Open a support plan"),
    "open_case_short": ("เปิดแผน", "Open a plan"),
    "planned": ("สิ่งที่จะทำ", "Planned step"),
    "plan_text": ("รายละเอียดแผน", "The plan"),
    "case_owner": ("ผู้รับผิดชอบ", "Owner"),
    "first_review": ("ทบทวนครั้งแรก", "First review"),
    "next_review": ("ทบทวนครั้งต่อไป", "Next review"),
    "plan_until": ("แผนถึงวันที่", "Plan until"),
    "record_review": ("บันทึกการทบทวน", "Record a review"),
    "review_note": ("ผลการทบทวน", "What the review found"),
    "close_case": ("ปิดแผน", "Close the plan"),
    "close_with": ("ผลลัพธ์", "Outcome"),
    "choose_case_outcome": ("— เลือกผลลัพธ์ของแผน —", "— choose the plan's outcome —"),
    "steps_taken": ("ขั้นตอนที่ทำแล้วระหว่างแผน", "Steps taken during the plan"),
    "case_weeks": ("ก่อนและหลังเริ่มแผน", "Before and since the plan"),
    "absence_4w": ("ขาดเรียน 4 สัปดาห์ก่อนหน้า", "Absent, 4 weeks before"),
    "before": ("ก่อน", "before"),
    "after": ("หลัง", "since"),
    "case_history": ("แผนที่ปิดแล้ว", "Closed plans"),
    "case_events": ("ความเคลื่อนไหว", "What happened"),
    "event_opened": ("เปิดแผน", "opened"),
    "event_review": ("ทบทวน", "reviewed"),
    "event_closed": ("ปิดแผน", "closed"),
    "case_notes": ("บันทึก", "Notes"),
    "add_note": ("เพิ่มบันทึก", "Add a note"),
    "restricted_kind": ("ข้อมูลอ่อนไหว", "Sensitive"),
    "not_restricted": ("ไม่ใช่", "no"),
    "restricted_protection": ("การคุ้มครองเด็ก", "child protection"),
    "restricted_health": ("สุขภาพ", "health"),
    "restricted_help": (
        "บันทึกด้านการคุ้มครองเด็กหรือสุขภาพ เห็นได้เฉพาะผู้เขียนและประธานคณะกรรมการ "
        "ไม่ออกไปกับรายงานหรือเอกสารสรุป เว้นแต่ผู้เขียนเลือกให้แนบ",
        "A protection or health note is read only by its author and the committee chair, "
        "and never leaves the service unless its author puts it in the brief",
    ),
    "in_brief": ("แนบในเอกสารสรุป", "Put in the printed brief"),
    "restricted_mark": ("อ่อนไหว", "restricted"),
    "print_brief": ("พิมพ์เอกสารสรุป (PDF)", "Print the brief (PDF)"),
    "brief_ask": ("สิ่งที่ขอจากผู้รับ", "What is asked of the recipient"),
    "outcome_back_on_track": ("กลับมาเรียนตามปกติ", "back on track"),
    "outcome_improving": ("ดีขึ้น", "improving"),
    "outcome_no_change": ("ไม่เปลี่ยนแปลง", "no change"),
    "outcome_referred": ("ส่งต่อแล้ว", "referred"),
    "outcome_left_school": ("ออกจากโรงเรียน", "left school"),
    "outcome_moved": ("ย้ายโรงเรียน", "moved school"),
    "needs_action": ("สิ่งที่ต้องทำ", "Needs action"),
    "untouched": (
        "นักเรียนในรายชื่อเฝ้าระวังที่ยังไม่มีการช่วยเหลือใน {} วันที่ผ่านมา",
        Counted(
            "Flagged students with no action in the last {} days",
            one="Flagged students with no action in the last day",
        ),
    ),
    "never_acted": ("ยังไม่เคย", "never"),
    "days_ago": ("{} วันก่อน", Counted("{} days ago", one="{} day ago")),
    "reviews_due": ("แผนที่ถึงกำหนดทบทวน", "Reviews due"),
    "overdue": ("เลยกำหนด {} วัน", Counted("{} days overdue", one="{} day overdue")),
    "due_today": ("ถึงกำหนดวันนี้", "due today"),
    "by_owner": ("แผนที่เปิดอยู่ แยกตามผู้รับผิดชอบ", "Open plans by owner"),
    "nothing_needed": ("ไม่มีรายการ", "Nothing here"),
    "untouched_schools": (
        "นักเรียนในรายชื่อเฝ้าระวังที่ยังไม่มีการช่วยเหลือ",
        "Flagged students nobody acted on",
    ),
    "flagged_now": ("อยู่ในรายชื่อเฝ้าระวัง", "Flagged"),
    "untouched_n": (
        "ยังไม่มีการช่วยเหลือ ({} วัน)",
        Counted("No action ({} days)", one="No action ({} day)"),
    ),
    "median_days_untouched": ("มัธยฐานจำนวนวัน", "Median days"),
    "usage": ("การใช้รายชื่อ (สัปดาห์ล่าสุด)", "Are the lists used? (latest week)"),
    "lists_opened": ("เปิดดูรายชื่อ (คน-วัน)", "Lists opened (person-days)"),
    "acted_7": ("ช่วยเหลือใน 7 วัน", "Acted on within 7 days"),
    "acted_14": ("ช่วยเหลือใน 14 วัน", "Acted on within 14 days"),
    "median_days_action": ("มัธยฐานวันถึงการช่วยเหลือแรก", "Median days to first action"),
}
SOURCES = {source.name: (source.thai, source.name) for source in CONTRACT_SOURCES}
METRICS = {
    "found_8w": (
        "พบทันเวลา: อยู่ในแผนเยี่ยมบ้านก่อนออก 8 สัปดาห์ขึ้นไป (ของผู้ที่ออก)",
        "Found in time: on a home-visit plan 8+ weeks before leaving (of those who left)",
    ),
    "found_4w": (
        "อยู่ในแผนเยี่ยมบ้านก่อนออก 4 สัปดาห์ขึ้นไป (ของผู้ที่ออก)",
        "On a home-visit plan 4+ weeks before leaving (of those who left)",
    ),
    "median_lead_weeks": (
        "มัธยฐานจำนวนสัปดาห์จากการเยี่ยมบ้านครั้งแรกตามแผนถึงวันที่ออก",
        "Median weeks from the first planned visit to leaving",
    ),
    "roc_auc": ("ROC-AUC (การจัดลำดับ ยิ่งสูงยิ่งดี)", "ROC-AUC"),
    "pr_auc": ("PR-AUC (ความแม่นยำเฉลี่ย ยิ่งสูงยิ่งดี)", "PR-AUC"),
    "precision_at_capacity_school": (
        "ความแม่นยำตามจำนวนที่ดูแลได้ (รายโรงเรียน)",
        "Precision at capacity (per school)",
    ),
    "recall_at_capacity_school": (
        "อัตราที่พบตามจำนวนที่ดูแลได้ (รายโรงเรียน)",
        "Recall at capacity (per school)",
    ),
    "brier": ("คะแนน Brier (ยิ่งต่ำยิ่งดี)", "Brier score (lower is better)"),
    "ece": ("ความคลาดเคลื่อนของการปรับเทียบ (ยิ่งต่ำยิ่งดี)", "Calibration error (lower is better)"),
}
# Metrics where a lower figure is better (the best of a row is the lowest).
LOWER_IS_BETTER = ("brier", "ece")
SCORER_COLUMNS = {
    "model": ("แบบจำลอง", "model"),
    "logistic": ("ถดถอยโลจิสติก", "logistic"),
    "abc_rule": ("เกณฑ์ ABC", "ABC rule"),
}
SHAPES = {
    "shallow": ("แบบตื้น", "shallow"),
    "medium": ("แบบกลาง", "medium"),
    "deep": ("แบบลึก", "deep"),
}
DECISIONS = {
    "promoted": ("เลื่อนเป็นแบบจำลองที่ใช้งาน", "promoted"),
    "refused": ("ไม่เลื่อน", "refused"),
    "kept": ("คงแบบจำลองเดิม", "kept"),
}
ROLES = {
    "advisor": ("ครูที่ปรึกษา", "class advisor"),
    "committee": ("คณะกรรมการดูแลช่วยเหลือ", "care committee"),
    "data_officer": ("เจ้าหน้าที่ข้อมูล", "data officer"),
    "area": ("เขตพื้นที่ / จังหวัด", "area office"),
    "analyst": ("นักวิเคราะห์", "analyst"),
    "admin": ("ผู้ดูแลระบบ", "administrator"),
}
DRIFT = {"moved": ("เปลี่ยนมาก", "moved"), "watch": ("เฝ้าดู", "watch"), "stable": ("คงที่", "stable")}
FAIRNESS = {
    "reference": ("กลุ่มอ้างอิง", "reference"),
    "ok": ("ไม่ต่างชัดเจน", "no clear gap"),
    "too few to judge": ("ข้อมูลน้อยเกินตัดสิน", "too few to judge"),
    "flag": ("ต่างชัดเจน", "clear gap"),
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
    "phone_call": ("โทรศัพท์ถึงผู้ปกครอง", "phone call"),
    "letter": ("ส่งจดหมายถึงผู้ปกครอง", "letter"),
    "parent_meeting": ("พบผู้ปกครอง", "parent meeting"),
    "counselling": ("ให้คำปรึกษา", "counselling"),
    "tutoring": ("สอนเสริม", "tutoring"),
    "scholarship_referral": ("ส่งต่อทุนการศึกษา", "scholarship referral"),
    "health_referral": ("ส่งต่อด้านสุขภาพ", "health referral"),
    "external_referral": ("ส่งต่อหน่วยงานภายนอก", "external referral"),
    "other": ("อื่น ๆ", "other"),
    # The home visit's estimate by group (ews effects' table, training.effects.VISIT_GROUPS)
    "home_visit.trouble": (
        "เยี่ยมบ้าน: นักเรียนที่มีปัญหาการมาเรียนหรือครอบครัว",
        "home visit: attendance or family trouble",
    ),
    "home_visit.others": ("เยี่ยมบ้าน: นักเรียนอื่น", "home visit: other students"),
}
# How a child left a school (the exits' types), as a page says it.
EXITS = {
    "dropout": ("ออกกลางคัน", "dropped out"),
    "transfer": ("ย้ายสถานศึกษา", "transferred"),
    "graduated": ("จบการศึกษา", "graduated"),
    "deceased": ("เสียชีวิต", "died"),
    "other": ("ออกด้วยเหตุอื่น", "left for another reason"),
}
OUTCOMES = {
    "done": ("สำเร็จ", "done"),
    "not_home": ("ไม่พบที่บ้าน", "not at home"),
    "refused": ("ปฏิเสธ", "refused"),
    "moved": ("ย้ายที่อยู่", "moved"),
    "other": ("อื่น ๆ", "other"),
}


SCORERS = {
    "lightgbm": ("แบบจำลอง LightGBM รุ่น {version}", "LightGBM model, version {version}"),
    "logistic": ("แบบจำลองถดถอยโลจิสติก รุ่น {version}", "logistic regression, version {version}"),
    "abc_rule": (
        "เกณฑ์ ABC (การมาเรียน พฤติกรรม ผลการเรียน): ยังไม่มีแบบจำลองที่ผ่านการตรวจ",
        "ABC rule (attendance, behaviour, course failure): no trained model in use",
    ),
}


THAI_MONTHS = (
    "ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.",
    "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค.",
)  # fmt: skip
ENGLISH_MONTHS = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip
# Grade levels as Thai schools write them (ม.5, ปวช.2).
GRADE_WORDS = {"K": "อ.", "P": "ป.", "M": "ม.", "V": "ปวช.", "H": "ปวส."}


def day(value: Any, language: str) -> str:
    """A date as people of the language write it: 30 มี.ค. 2569 (Buddhist Era), or
    30 Mar 2026; '' for none."""
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return ""
    when = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    if language == "en":
        return f"{when.day} {ENGLISH_MONTHS[when.month - 1]} {when.year}"
    return f"{when.day} {THAI_MONTHS[when.month - 1]} {when.year + 543}"


def covered(
    terms: Iterable[tuple[int, int]], dates: tuple[date, date] | None, language: str
) -> str:
    """What a file's rows are of: ภาคเรียนที่ 2/2567, 2 ธ.ค. 2567 – 4 ธ.ค. 2567 (more
    than two terms: the first – the last)."""
    word = "ภาคเรียนที่" if language == "th" else "term"
    named = [f"{term}/{year}" for year, term in sorted(terms)]
    if len(named) > 2:
        named = [f"{named[0]} – {named[-1]}"]
    parts = [f"{word} {', '.join(named)}"] if named else []
    if dates is not None:
        first, last = (day(d, language) for d in dates)
        parts.append(first if first == last else f"{first} – {last}")
    return ", ".join(parts)


def moment(value: datetime | None, language: str) -> str:
    """A stored time (UTC) as the schools' clock reads it: 27 พ.ย. 2569 13:52, or
    27 Nov 2026 13:52 (Asia/Bangkok); '' for none."""
    if value is None:
        return ""
    here = clock.local(value)
    return f"{day(here.date(), language)} {here:%H:%M}"


def grade(level: str | None, language: str) -> str:
    """A grade level (M5) as the language writes it (ม.5); '' for none."""
    if not level:
        return ""
    text = str(level)
    if language == "th" and text[:1] in GRADE_WORDS and text[1:].isdigit():
        return GRADE_WORDS[text[0]] + text[1:]
    return text


def classroom(room: str | None, language: str) -> str:
    """A classroom (M5/2, or the DMC group class:M5/2) as the language writes it (ม.5/2)."""
    if not room:
        return ""
    text = str(room).removeprefix("class:")
    level, _, number = text.partition("/")
    return grade(level, language) + (f"/{number}" if number else "")


def phase(text: str | None, language: str) -> str:
    """A drift check's phase ("term 2, week 8") in the language."""
    if not text or language != "th":
        return text or ""
    import re

    found = re.match(r"term (\d+), week (\d+)", text)
    return f"ภาคเรียนที่ {found[1]} สัปดาห์ที่ {found[2]}" if found else text


# The model's own score, compared for drift beside the features.
SCORE_NAME = ("คะแนนความเสี่ยงจากแบบจำลอง", "the model's risk score")


def feature_name(feature: str, language: str) -> str:
    """A feature's name in the language (its id when the catalog has none)."""
    from features.catalog import catalog
    from riskmodel.input_counts import SCORE

    if feature == SCORE:
        return SCORE_NAME[0] if language == "th" else SCORE_NAME[1]
    spec = catalog().get(feature)
    if spec is None:
        return feature
    return spec.name_th if language == "th" else spec.name_en


def figure(value: float, digits: int = 2) -> str:
    """A number with ``digits`` decimals; infinite as ∞, missing as –."""
    number = float(value)
    if number != number:
        return "–"
    if number in (float("inf"), float("-inf")):
        return "∞" if number > 0 else "-∞"
    return f"{number:.{digits}f}"


def signed(value: float, digits: int = 3) -> str:
    """A change with its sign, ``digits`` decimals: one that rounds to nothing is +0.000,
    never -0.000 (which reads as a small harm)."""
    return f"{round(float(value), digits) + 0.0:+.{digits}f}"


def percent(risk: float) -> str:
    """A risk as a percentage with enough resolution to tell students apart: a decimal
    under 10% (3.4% and 2.6% are not both "3%")."""
    value = 100 * risk
    return f"{value:.1f}%" if value < 10 else f"{value:.0f}%"


def scorer_label(kind: str | None, version: str, language: str) -> str:
    """What made a list, in words: the kind of scorer and its version."""
    return pick(SCORERS, kind or "lightgbm", language).format(version=version)


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
