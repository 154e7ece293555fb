"""Thai for the messages the service's checks write in English (rejected rows, refused
files, form errors): one table of patterns, so a Thai page never shows an English reason.

The checks themselves (``schooldata.validate``, ``schooldata.ingest``, the forms) keep
English, the language of logs, the CLI and the rejects report; pages in Thai translate
what they show through ``thai``. A message no pattern knows is shown as it is, and the
page test that reads every word of a Thai page fails on it.
"""

from __future__ import annotations

import re

from schooldata.contract import SOURCES
from schooldata.validate import second_column
from serving.i18n import day

# Thai words schools use for the contract's coded values (shown in "must be one of").
VALUE_WORDS = {
    "present": "มา",
    "absent": "ขาด",
    "late": "สาย",
    "sick_leave": "ลาป่วย",
    "personal_leave": "ลากิจ",
    "normal": "ปกติ",
    "at_risk": "เสี่ยง",
    "problem": "มีปัญหา",
    "M": "ช (ชาย)",
    "F": "ญ (หญิง)",
    "X": "ไม่ระบุ",
    "dropout": "ออกกลางคัน",
    "transfer": "ย้าย",
    "graduated": "จบการศึกษา",
    "deceased": "เสียชีวิต",
    "other": "อื่น ๆ",
    "none": "ไม่มี",
    "poor": "ยากจน",
    "extremely_poor": "ยากจนพิเศษ",
    "good": "ดี",
    "fair": "พอใช้",
    "home_visit": "เยี่ยมบ้าน",
    "phone_call": "โทรศัพท์",
    "letter": "จดหมาย",
    "done": "สำเร็จ",
    "not_home": "ไม่พบที่บ้าน",
    "refused": "ปฏิเสธ",
    "moved": "ย้ายที่อยู่",
}
SOURCE_WORDS = {source.name: source.thai for source in SOURCES}
COLUMN_WORDS = {c.name: c.thai for source in SOURCES for c in source.columns if c.thai}


def _values(listed: str) -> str:
    words = [w.strip() for w in listed.split(",")]
    return ", ".join(VALUE_WORDS.get(w, w) for w in words)


# (pattern of the English message, Thai; a callable gets the match).
PATTERNS: list[tuple[re.Pattern[str], object]] = [
    (re.compile(p), t)
    for p, t in (
        (r"^required value is missing$", "ไม่มีค่าในช่องที่ต้องกรอก"),
        # Why a weekly run made no list (the operations page).
        (r"^no school day this week$", "ไม่มีวันเรียนในสัปดาห์นี้"),
        (
            r"^no student is enrolled on (\d{4}-\d{2}-\d{2}) ",
            lambda m: (
                f"ไม่มีนักเรียนที่ลงทะเบียนเรียนในวันที่ {day(m[1], 'th')} (วันหยุด "
                "วันที่พิมพ์ผิด หรือภาคเรียนที่ยังไม่ได้ส่งข้อมูลการลงทะเบียน): "
                "เมื่อโรงเรียนส่งไฟล์ทางหน้าส่งข้อมูล ระบบจะจัดทำรายชื่อของสัปดาห์ทันที"
            ),
        ),
        (
            r"^every school's data is stale on (\d{4}-\d{2}-\d{2}): attendance stops more "
            r"than (\d+) school days",
            lambda m: (
                f"ข้อมูลของทุกโรงเรียนไม่เป็นปัจจุบัน ณ วันที่ {day(m[1], 'th')}: ข้อมูลการมาเรียน"
                f"สิ้นสุดก่อนหน้านั้นเกิน {m[2]} วันเรียน เมื่อโรงเรียนส่งไฟล์ล่าสุดทางหน้าส่งข้อมูล "
                "ระบบจะจัดทำรายชื่อทันที"
            ),
        ),
        (
            r"^nobody is enrolled at school (\S+) on (\d{4}-\d{2}-\d{2})$",
            lambda m: f"ไม่มีนักเรียนที่ลงทะเบียนเรียนที่โรงเรียน {m[1]} ในวันที่ {day(m[2], 'th')}",
        ),
        (r"^(\w+) must be at least (\S+)$", lambda m: f"ค่า {m[1]} ต้องไม่น้อยกว่า {m[2]}"),
        (r"^(\w+) must be at most (\S+)$", lambda m: f"ค่า {m[1]} ต้องไม่เกิน {m[2]}"),
        (r"^(\w+) must be a whole number$", lambda m: f"ค่า {m[1]} ต้องเป็นจำนวนเต็ม"),
        (
            r"^(\w+) may be at most (\d+) characters$",
            lambda m: f"ค่า {m[1]} ยาวได้ไม่เกิน {m[2]} ตัวอักษร",
        ),
        (r"^(\w+) is missing$", lambda m: f"ไม่มีค่า {m[1]}"),
        (r"^(\w+) is not a value this page takes$", lambda m: f"หน้านี้ใช้ค่า {m[1]} ที่ส่งมาไม่ได้"),
        (
            r"^the form has expired: reload the page and try again$",
            "หน้านี้เปิดค้างไว้นานเกินไป หรือมีการเข้าสู่ระบบใหม่ในระหว่างนั้น จึงส่งแบบฟอร์มไม่ได้ เปิดหน้าเดิมอีกครั้งแล้วส่งใหม่",
        ),
        (
            r"^no enrolments in the database: nothing to score until",
            "ยังไม่มีข้อมูลการลงทะเบียนเรียนในระบบ จะจัดลำดับได้เมื่อโหลดแฟ้มของโรงเรียนแล้ว "
            "(ews ingest หรือหน้าส่งข้อมูลของเจ้าหน้าที่ข้อมูล)",
        ),
        (r"^not a whole number$", "ไม่ใช่จำนวนเต็ม"),
        (r"^not a number$", "ไม่ใช่ตัวเลข"),
        (r"^not a date \(", "ไม่ใช่วันที่ (ใช้ ปปปป-ดด-วว หรือ วว/ดด/ปปปป แบบ พ.ศ.)"),
        (r"^not a yes/no value", "ไม่ใช่ค่า ใช่/ไม่ใช่"),
        (r"^must be one of: (.*)$", lambda m: "ต้องเป็นค่าใดค่าหนึ่ง: " + _values(m[1])),
        (r"^must be between (\S+) and (\S+)$", lambda m: f"ต้องอยู่ระหว่าง {m[1]} ถึง {m[2]}"),
        (r"^must match ", "รูปแบบไม่ถูกต้อง"),
        (
            r"^not a 13-digit Thai national ID",
            "ไม่ใช่เลขประจำตัวประชาชน 13 หลัก หรือรหัสของเด็กที่ไม่มีเลขประจำตัว (รหัส G)",
        ),
        (r"^a 13-digit national ID whose check digit", "เลขประจำตัวประชาชนที่เลขหลักสุดท้ายไม่ถูกต้อง"),
        (r"^ends before it starts$", "วันสิ้นสุดอยู่ก่อนวันเริ่ม"),
        (r"^score is above max_score$", "คะแนนสูงกว่าคะแนนเต็ม"),
        (r"^is in the future$", "เป็นวันในอนาคต"),
        (r"^duplicate key: same as an earlier line$", "ซ้ำกับบรรทัดก่อนหน้า"),
        (
            r"^student code used at more than one school",
            "รหัสนักเรียนนี้มีในหลายโรงเรียน กรุณาใส่คอลัมน์รหัสโรงเรียน",
        ),
        (r"^unknown school$", "ไม่พบโรงเรียนนี้ในระบบ"),
        (
            r"^another school's row: this load is for (.*)$",
            lambda m: f"เป็นข้อมูลของโรงเรียนอื่น การส่งครั้งนี้สำหรับโรงเรียน {m[1]}",
        ),
        (
            r"^leading zeros put back: ",
            "เติมเลข 0 นำหน้ารหัสนักเรียนคืน (แผ่นงานเก็บรหัสเป็นตัวเลข)",
        ),
        (
            r"^no student has this national ID or G code$",
            "ไม่พบนักเรียนที่มีเลขประจำตัวประชาชนหรือรหัส G นี้ (ส่งรายชื่อนักเรียนพร้อมเลขประจำตัวประชาชนก่อน)",
        ),
        (
            r"^no student code, nor a valid national ID or G code$",
            "ไม่มีรหัสนักเรียน และเลขประจำตัวประชาชนหรือรหัส G ไม่ถูกต้อง",
        ),
        (
            r"^several students of the school have this national ID or G code",
            "นักเรียนหลายคนของโรงเรียนมีเลขประจำตัวประชาชนหรือรหัส G นี้เหมือนกัน "
            "กรุณาระบุรหัสนักเรียน หรือแก้เลขประจำตัวในไฟล์รายชื่อนักเรียน",
        ),
        (
            r"^students of several schools have this national ID or G code",
            "เลขประจำตัวประชาชนนี้เป็นของนักเรียนหลายโรงเรียน กรุณาระบุรหัสสถานศึกษา",
        ),
        (
            r"^one national ID for (\d+) students of the school enrolled in term (\d)/(\d{4})",
            lambda m: (
                f"นักเรียน {m[1]} คนของโรงเรียนที่ลงทะเบียนในภาคเรียนที่ {m[2]}/{m[3]} "
                "มีเลขประจำตัวประชาชนเดียวกัน ซึ่งเป็นของเด็กคนเดียวไม่ได้ "
                "ระบบจึงไม่เชื่อมโยงนักเรียนเหล่านี้ด้วยเลขนี้จนกว่าจะแก้ให้ถูกต้อง"
            ),
        ),
        (
            r"^this national ID is also given to a student of another school, and both were "
            r"marked at school on the same days of term (\d)/(\d{4})",
            lambda m: (
                "เลขประจำตัวประชาชนนี้เป็นของนักเรียนอีกคนหนึ่งของโรงเรียนอื่นด้วย "
                f"และทั้งสองคนมาเรียนในวันเดียวกันในภาคเรียนที่ {m[1]}/{m[2]} "
                "ซึ่งเป็นของเด็กคนเดียวไม่ได้ ระบบจึงไม่เชื่อมโยงทั้งสองคนด้วยเลขนี้จนกว่าจะแก้ให้ถูกต้อง "
                "(ตรวจกับบัตรประชาชนหรือทะเบียนบ้านของเด็ก สำนักงานเขตพื้นที่เห็นทั้งสองโรงเรียน)"
            ),
        ),
        (
            r"^unknown student of the school$",
            "ไม่พบนักเรียนคนนี้ของโรงเรียน (ส่งรายชื่อนักเรียนหรือการลงทะเบียนก่อน)",
        ),
        (
            r"^missing required column (.*?); a class list may name them",
            lambda m: (
                "ไม่มีคอลัมน์ที่ต้องมี: "
                + _columns(m[1])
                + " รายชื่อนักเรียนระบุชั้นและภาคเรียนไว้เหนือหัวตารางแทนได้ "
                "(รายชื่อนักเรียนชั้น ม.1/1 ภาคเรียนที่ 1 ปีการศึกษา 2568)"
            ),
        ),
        (
            r"^missing required column (.*?); a grade book may name them",
            lambda m: (
                "ไม่มีคอลัมน์ที่ต้องมี: "
                + _columns(m[1])
                + " แบบบันทึกผลการเรียนระบุรายวิชาและภาคเรียนไว้เหนือหัวตารางแทนได้ "
                "(รายวิชา ท21101 ภาษาไทย 1 ภาคเรียนที่ 1 ปีการศึกษา 2568)"
            ),
        ),
        (
            r"^missing required column (.*)$",
            lambda m: "ไม่มีคอลัมน์ที่ต้องมี: " + _columns(m[1]),
        ),
        (
            r"^required file is missing; a class list may stand for it",
            "ไม่มีไฟล์ที่ต้องมี ใช้รายชื่อนักเรียนแทนได้ หากระบุชั้นของนักเรียนแต่ละคน "
            "และระบุภาคเรียนไว้เหนือหัวตาราง (รายชื่อนักเรียนชั้น ม.1/1 ภาคเรียนที่ 1 ปีการศึกษา 2568)",
        ),
        (
            r"^required file is missing; if nobody has left yet",
            "ไม่มีไฟล์ที่ต้องมี หากยังไม่มีนักเรียนออก ให้ส่งไฟล์ที่มีแต่หัวตาราง (รหัสนักเรียน,วันที่ออก,ประเภทการออก)",
        ),
        (r"^required file is missing$", "ไม่มีไฟล์ที่ต้องมี"),
        (r"^cannot be read: ", "อ่านไฟล์ไม่ได้ (ไฟล์เสียหรือไม่ใช่ชนิดที่ระบุ)"),
        (r"^a register needs a student column", "แบบบันทึกเวลาเรียนต้องมีคอลัมน์รหัสนักเรียน"),
        (
            r"^choose at least one file \((.*)\)$",
            lambda m: f"กรุณาเลือกไฟล์อย่างน้อยหนึ่งไฟล์ ({m[1]})",
        ),
        (
            r"^(.+): not a file the service reads \((.*)\)$",
            lambda m: f"{m[1]}: ไม่ใช่ไฟล์ที่ระบบอ่านได้ ({m[2]})",
        ),
        (
            r"^(.+): cannot tell which data this is",
            lambda m: (
                f"{m[1]}: ระบุไม่ได้ว่าเป็นข้อมูลใด กรุณาตั้งชื่อไฟล์ตามชนิดข้อมูล "
                "(เช่น การมาเรียน.xlsx) หรือใช้หัวคอลัมน์ตามพจนานุกรมข้อมูล"
            ),
        ),
        (
            r"^(.+): two files hold (\w+); upload one$",
            lambda m: f"{m[1]}: มีสองไฟล์เป็นข้อมูล{SOURCE_WORDS.get(m[2], m[2])} กรุณาส่งไฟล์เดียว",
        ),
        (r"^this upload was undone already$", "การส่งข้อมูลครั้งนี้ถูกย้อนไปแล้ว"),
        (
            r"^only the school's latest upload can be undone, and only once$",
            "ย้อนได้เฉพาะการส่งข้อมูลครั้งล่าสุดของโรงเรียน และย้อนได้ครั้งเดียว",
        ),
        (
            r"^this upload cannot be undone: a load since",
            "ย้อนการส่งครั้งนี้ไม่ได้ เพราะหลังจากนั้นมีการนำเข้าข้อมูลของโรงเรียนทางอื่น "
            "(บรรทัดคำสั่ง) หรือระบบเก็บข้อมูลไว้ในชุดข้อมูล (dataset) กรุณาส่งไฟล์ที่ถูกต้องแทน",
        ),
        (
            r"^(\d+) children this upload added have visits or cases recorded since",
            lambda m: (
                f"นักเรียน {m[1]} คนที่เพิ่มเข้ามาในการส่งครั้งนี้มีบันทึกการเยี่ยมบ้านหรือการดูแล"
                "แล้ว การย้อนจะทำให้บันทึกเหล่านั้นไม่มีนักเรียน กรุณาส่งไฟล์ที่ถูกต้องแทน"
            ),
        ),
        (
            r"^given per person: the household's size is needed$",
            "รายได้เฉลี่ยต่อคน ต้องมีจำนวนสมาชิกครัวเรือนจึงคิดเป็นรายได้ครัวเรือนได้",
        ),
        (
            r"^(.+): (\d+) of the (\d+) children of term (\d)/(\d{4}) are enrolled nowhere now",
            lambda m: (
                f"{m[1]}: นักเรียน {m[2]} จาก {m[3]} คนของภาคเรียนที่ {m[4]}/{m[5]} "
                "ไม่พบการลงทะเบียนที่ใดในภาคเรียนนี้ และถูกเพิ่มในรายการเด็กที่ต้องติดตาม "
                "หากโรงเรียนเปลี่ยนรหัสนักเรียนใหม่ ให้ส่งไฟล์รายชื่อนักเรียนพร้อมเลขประจำตัวประชาชน "
                "(เลขเดียวกันคือเด็กคนเดียวกัน รายการจะปิดเอง) หากไฟล์มีนักเรียนเพียงบางส่วน "
                "ให้ส่งส่วนที่เหลือ หรือย้อนการส่งครั้งนี้"
            ),
        ),
        (r"^date is in the future$", "วันที่อยู่ในอนาคต"),
        (
            r"^date is before the student's first school year at this school \((\d+)\): "
            r"is its year typed wrong\?$",
            lambda m: f"วันที่อยู่ก่อนปีการศึกษาแรกของนักเรียนที่โรงเรียนนี้ ({m[1]}): พิมพ์ปีผิดหรือไม่",
        ),
        (r"^not a date: ", "วันที่ไม่ถูกต้อง"),
        (
            r"^capacity must be a whole number, not '(.*)'$",
            lambda m: f"จำนวนที่เยี่ยมได้ต้องเป็นจำนวนเต็ม ไม่ใช่ '{m[1]}'",
        ),
        (r"^capacity must be between 0 and 500", "จำนวนที่เยี่ยมได้ต้องอยู่ระหว่าง 0 ถึง 500 ครั้งต่อสัปดาห์"),
        (
            r"^no school '(.*)' in the data: add it first",
            lambda m: f"ไม่พบโรงเรียน '{m[1]}' ในข้อมูล กรุณาเพิ่มสถานศึกษาก่อน (หัวข้อ เพิ่มสถานศึกษา ในหน้านี้)",
        ),
        (r"^no school '(.*)' in the data$", lambda m: f"ไม่พบโรงเรียน '{m[1]}' ในข้อมูล"),
        (
            r"^the school '(.*)' is in the data already$",
            lambda m: f"มีสถานศึกษา '{m[1]}' ในข้อมูลแล้ว",
        ),
        (r"^no school in the province '(.*)'$", lambda m: f"ไม่พบโรงเรียนในจังหวัด '{m[1]}'"),
        (r"^no school '(.*)'$", lambda m: f"ไม่พบโรงเรียน '{m[1]}'"),
        (r"^name must not be empty$", "กรุณากรอกชื่อ"),
        (r"^name is too long$", "ชื่อยาวเกิน 200 ตัวอักษร"),
        (r"^the username '(.*)' is taken$", lambda m: f"ชื่อผู้ใช้ '{m[1]}' มีผู้ใช้แล้ว"),
        (
            r"^a username is 3 to 40",
            "ชื่อผู้ใช้ต้องยาว 3 ถึง 40 ตัว ใช้ได้เฉพาะอักษรอังกฤษตัวเล็ก ตัวเลข จุด ขีด และขีดล่าง",
        ),
        (
            r"^an advisor account needs",
            "บัญชีครูที่ปรึกษาต้องระบุโรงเรียนและรหัสครูที่ปรึกษา (advisor_id ในข้อมูลการลงทะเบียน)",
        ),
        (r"^a (\w+) account needs --school$", "บัญชีนี้ต้องระบุโรงเรียน"),
        (
            r"^a (\w+) account is not tied to one school",
            "บัญชีนี้ไม่ผูกกับโรงเรียนใดโรงเรียนหนึ่ง กรุณาเว้นช่องโรงเรียน",
        ),
        (r"^an area office account needs", "บัญชีเขตพื้นที่ต้องระบุโรงเรียนที่ติดตามหรือจังหวัด"),
        (r"^only an area office account follows", "เฉพาะบัญชีเขตพื้นที่ที่ติดตามหลายโรงเรียนได้"),
        (r"^role must be one of", "บทบาทไม่ถูกต้อง"),
        (r"^only a committee member chairs", "เฉพาะกรรมการของโรงเรียนเป็นประธานคณะกรรมการได้"),
        # Follow-through (``serving.cases``).
        (r"^this student already has an open case$", "นักเรียนคนนี้มีแผนการช่วยเหลือที่เปิดอยู่แล้ว"),
        (r"^the review date is in the past$", "วันทบทวนต้องไม่เป็นวันที่ผ่านมาแล้ว"),
        (r"^reviews come every", "รอบการทบทวนต้องอยู่ระหว่าง 1 ถึง 60 วัน"),
        (r"^a plan lasts", "แผนต้องยาว 1 ถึง 52 สัปดาห์"),
        (r"^this case is closed$", "แผนนี้ปิดแล้ว"),
        (
            r"^you were signed out, so what you sent was not saved",
            "ท่านออกจากระบบไปแล้ว สิ่งที่ส่งมาจึงยังไม่ได้บันทึก กรุณาเข้าสู่ระบบแล้วส่งอีกครั้ง",
        ),
        (
            r"^this form was sent already: fill it in again for a new one$",
            "แบบฟอร์มนี้ส่งไปแล้ว: สิ่งที่บันทึกไว้แสดงอยู่ในหน้านี้ หากจะบันทึกรายการใหม่ให้กรอกอีกครั้ง",
        ),
        (r"^the note is empty$", "กรุณาเขียนบันทึก"),
        (r"^a restricted note is one of", "ประเภทข้อมูลอ่อนไหวไม่ถูกต้อง"),
        (r"^outcome must be one of", "กรุณาเลือกผลลัพธ์"),
        (r"^type must be one of", "ประเภทการช่วยเหลือไม่ถูกต้อง"),
        (
            r"^no Thai font at",
            "ไม่พบฟอนต์ภาษาไทยสำหรับพิมพ์เอกสาร (ติดตั้ง fonts-thai-tlwg หรือตั้งค่า EWS_BRIEF_FONT)",
        ),
        (r"^a password needs at least (\d+)", lambda m: f"รหัสผ่านต้องมีอย่างน้อย {m[1]} ตัวอักษร"),
        (r"^the e-mail address is not valid", "อีเมลไม่ถูกต้อง (ตัวอย่าง name@school.ac.th)"),
        (r"^no (active )?account (\d+)$", lambda m: f"ไม่พบบัญชีที่ใช้งานอยู่ หมายเลข {m[2]}"),
        (r"^this student was at no other school before$", "นักเรียนคนนี้ไม่เคยเรียนที่โรงเรียนอื่น"),
        # The missing children's worklist (``serving.worklist``).
        (r"^status must be one of", "สถานะไม่ถูกต้อง"),
        (r"^reason_code must be one of", "รหัสสาเหตุไม่ถูกต้อง (1-12 หรือ 99)"),
        (
            r"^reason_code '(.*)' is not a reason",
            lambda m: f"สาเหตุ '{m[1]}' ไม่ถูกต้อง ใช้รหัส (1-12 หรือ 99) หรือข้อความสาเหตุ",
        ),
        (r"^help_needed must be among", "ความช่วยเหลือที่ต้องการไม่ถูกต้อง"),
        (r"^found_on is in the future$", "วันที่พบหรือกลับเข้าเรียนอยู่ในอนาคต"),
        (r"^a referred case names the agency", "กรุณาระบุหน่วยงานที่ส่งต่อ"),
        (r"^a found child needs the date", "กรุณาระบุวันที่พบตัวหรือวันที่กลับเข้าเรียน"),
        (r"^the owner must be an advisor", "ผู้รับผิดชอบต้องเป็นครูที่ปรึกษาหรือกรรมการของโรงเรียน"),
        (r"^this case was closed by the records", "รายการนี้ปิดแล้วตามข้อมูล: เด็กลงทะเบียนเรียนแล้ว"),
        (r"^the file needs the columns", "ไฟล์ต้องมีคอลัมน์ เลขที่รายการ และ สถานะ"),
        (r"^no such case of yours$", "ไม่พบรายการนี้ในรายการที่คุณดูแล"),
        (
            r"^this case was changed after it was read for this change: its note was added",
            "รายการนี้มีการแก้ไขหลังจากเปิดแบบฟอร์มหรือดาวน์โหลดไฟล์นี้ บันทึกถูกเพิ่มแล้ว "
            "แต่การเปลี่ยนแปลงอื่นยังไม่ได้บันทึก กรุณาดูรายการล่าสุดแล้วส่งอีกครั้ง",
        ),
        (
            r"^this case was changed after it was read for this change: its changes",
            "รายการนี้มีการแก้ไขหลังจากเปิดแบบฟอร์มหรือดาวน์โหลดไฟล์นี้ การเปลี่ยนแปลงยังไม่ได้บันทึก "
            "กรุณาดูรายการล่าสุดแล้วส่งอีกครั้ง",
        ),
        (r"^(.+): larger than 2 MB$", lambda m: f"{m[1]}: ไฟล์ใหญ่เกิน 2 MB"),
        (r"^Invalid isoformat string", "วันที่ไม่ถูกต้อง (ตัวอย่าง 2025-11-10)"),
        (r"^invalid literal for int", "ไม่ใช่จำนวนเต็ม"),
        # Training's guards, promotion decisions and effect estimates (the analyst's page).
        (
            r"^The model kept only (\d+) trees",
            lambda m: (
                f"แบบจำลองมีเพียง {m[1]} ต้น: แทบไม่ได้เรียนรู้อะไร ตรวจว่าโหลดข้อมูลการมาเรียน ผลการเรียน หรือคะแนนเก็บของปีที่ใช้ฝึกแล้ว และมีนักเรียนออกมากพอ"
            ),
        ),
        (
            r"^The (.+?) ranks students no better than chance",
            lambda m: (
                f"{_scorer(m[1])} จัดลำดับนักเรียนได้ไม่ดีกว่าการสุ่ม ข้อมูลอาจไม่มีสัญญาณก่อนการออก ให้ใช้แบบจำลองเดิมต่อไป"
            ),
        ),
        (
            r"^On the (.+?) the (.+?) ranks students no better than the (.+?) \(average precision ([\d.]+) against ([\d.]+)\)",
            lambda m: (
                f"บน{_period(m[1])} {_scorer(m[2])} จัดลำดับได้ไม่ดีกว่า{_scorer(m[3])} (average precision {m[4]} เทียบกับ {m[5]}) ตัวจัดลำดับที่ง่ายกว่าใช้ได้ดีพอกัน"
            ),
        ),
        (
            r"^Its risk takes only (\d+) different values",
            lambda m: f"ความเสี่ยงมีเพียง {m[1]} ค่าในช่วงทดสอบ นักเรียนส่วนใหญ่มีความเสี่ยงเท่ากันจึงจัดลำดับไม่ได้",
        ),
        (
            r"^It would put (\d+%) of students in the high tier",
            lambda m: f"หากประเมินทีละคน นักเรียน {m[1]} จะอยู่ในกลุ่มเสี่ยงสูง รายชื่อที่แจ้งเตือนเกือบทุกคนไม่ช่วยใคร",
        ),
        (r"^version (\d+) is already the champion$", lambda m: f"รุ่น {m[1]} เป็นแบบจำลองที่ใช้งานอยู่แล้ว"),
        (
            r"^the challenger failed a guard: (.*)$",
            lambda m: "แบบจำลองใหม่ไม่ผ่านการตรวจ: " + thai(m[1]),
        ),
        (r"^no champion yet", "ยังไม่มีแบบจำลองที่ใช้งาน แบบจำลองแรกที่ผ่านการตรวจจึงถูกใช้"),
        (r"^forced by (\S+): (.*)$", lambda m: f"บังคับเลื่อนโดย {m[1]}: {m[2]}"),
        (
            r"learned from outcomes inside the test period",
            "แบบจำลองได้เรียนรู้จากผลลัพธ์ในช่วงทดสอบแล้ว จึงเทียบกันอย่างเป็นธรรมบนช่วงนั้นไม่ได้",
        ),
        (
            r"^the (.+?) cannot score today's features",
            lambda m: f"{_scorer(m[1])} ประเมินคุณลักษณะปัจจุบันไม่ได้",
        ),
        (
            r"^within-school precision at capacity on ([\d,]+) rows of the same test period \(([\d,]+) students\): challenger (\S+) .*against champion (\S+) .*; difference (.*)$",
            lambda m: (
                f"ความแม่นยำภายในโรงเรียนตามจำนวนที่ดูแลได้ บน {m[1]} แถวของช่วงทดสอบเดียวกัน ({m[2]} คน): แบบจำลองใหม่ {m[3]} เทียบกับแบบจำลองเดิม {m[4]} ผลต่าง {m[5]}"
            ),
        ),
        (
            r"^the challenger is worse: the lower end of the difference \(([^)]*)\) is below the margin of (\S+)$",
            lambda m: f"แบบจำลองใหม่แย่กว่า: ขอบล่างของผลต่าง ({m[1]}) ต่ำกว่าเกณฑ์ {m[2]}",
        ),
        (
            r"^the challenger adds fairness flags: (.*)$",
            lambda m: (
                "แบบจำลองใหม่มีข้อสังเกตด้านความเป็นธรรมเพิ่ม: "
                + ", ".join(fairness_flag(f.strip(), "th") for f in m[1].split("),"))
            ),
        ),
        (r"^usable$", "ใช้ได้"),
        (
            r"^the interval is (\S+) wide \(over (\S+)\)$",
            lambda m: f"ช่วงความเชื่อมั่นกว้าง {m[1]} (เกิน {m[2]})",
        ),
        (
            r"^(\S+) of treated students have no comparable untreated one$",
            lambda m: f"นักเรียนที่ได้รับการช่วยเหลือ {m[1]} ไม่มีนักเรียนที่ไม่ได้รับซึ่งเทียบกันได้",
        ),
        (
            r"^the groups still differ after weighting \(\|SMD\| (\S+)\)$",
            lambda m: f"สองกลุ่มยังต่างกันหลังถ่วงน้ำหนัก (|SMD| {m[1]})",
        ),
        (
            r"^too few records: (\d+) treated of whom (\d+) left, (\d+)",
            lambda m: f"ข้อมูลน้อยเกินไป: ได้รับการช่วยเหลือ {m[1]} คน ออก {m[2]} คน กลุ่มเทียบ {m[3]} คน",
        ),
        (r"^no home visit is recorded$", "ไม่มีการบันทึกการเยี่ยมบ้าน"),
        (
            r"^no benefit order: the home-visit estimate is not usable \((.*)\)$",
            lambda m: "ไม่มีลำดับตามประโยชน์: ผลประมาณของการเยี่ยมบ้านใช้ไม่ได้ (" + thai(m[1]) + ")",
        ),
        (
            r"^no benefit order: the home-visit interval does not exclude no effect",
            "ไม่มีลำดับตามประโยชน์: ช่วงความเชื่อมั่นของผลการเยี่ยมบ้านยังครอบคลุมศูนย์",
        ),
        (r"^the visits were not estimated by group$", "ไม่ได้ประมาณผลการเยี่ยมแยกตามกลุ่ม"),
        (
            r"^benefit order available, by group: a visit shifts the log-odds of leaving for "
            r"a reason it can address by (\S+) for students with attendance or family trouble "
            r"and by (\S+) for the others \(learnt from (\d+) visits\)$",
            lambda m: (
                "ใช้ลำดับตามประโยชน์ได้ แยกตามกลุ่ม: การเยี่ยมบ้านเปลี่ยนค่า log-odds ของการออกด้วย"
                f"สาเหตุที่การเยี่ยมช่วยได้ {m[1]} สำหรับนักเรียนที่มีปัญหาการมาเรียนหรือครอบครัว "
                f"และ {m[2]} สำหรับนักเรียนอื่น (เรียนรู้จากการเยี่ยม {m[3]} ครั้ง)"
            ),
        ),
        (
            r"^benefit order available: a visit shifts the log-odds of leaving for a reason it "
            r"can address by (\S+) \(learnt from (\d+) visits\); one effect for everyone: (.*)$",
            lambda m: (
                "ใช้ลำดับตามประโยชน์ได้: การเยี่ยมบ้านเปลี่ยนค่า log-odds ของการออกด้วยสาเหตุที่"
                f"การเยี่ยมช่วยได้ {m[1]} (เรียนรู้จากการเยี่ยม {m[2]} ครั้ง) ใช้ผลเดียวกับทุกคน: " + thai(m[3])
            ),
        ),
        (
            r"^the estimate for (.+?) is not usable \((.*)\)$",
            lambda m: f"ผลประมาณของ {m[1]} ใช้ไม่ได้ (" + thai(m[2]) + ")",
        ),
        (
            r"^the records do not tell the groups apart: one shift of the log-odds \((\S+)\) "
            r"fits both groups' estimates, (.+?) for students with attendance or family "
            r"trouble and (.+?) for the others \(chi-squared (\S+), p (\S+)\)$",
            lambda m: (
                f"ข้อมูลแยกผลของสองกลุ่มไม่ได้: ค่า log-odds ที่เลื่อนค่าเดียว ({m[1]}) เข้ากับผลประมาณ"
                f"ของทั้งสองกลุ่ม คือ {m[2]} สำหรับนักเรียนที่มีปัญหาการมาเรียนหรือครอบครัว และ "
                f"{m[3]} สำหรับนักเรียนอื่น (ไคสแควร์ {m[4]}, ค่าพี {m[5]})"
            ),
        ),
        (r"^the records do not tell the groups apart", "ข้อมูลแยกผลของสองกลุ่มไม่ได้"),
        (
            r"^there is no benefit model to order by",
            "ยังไม่มีแบบจำลองประโยชน์ของการเยี่ยมบ้านให้ใช้เรียงลำดับ (ews effects สร้างเมื่อผลประมาณใช้ได้)",
        ),
    )
]


SCORER_WORDS = {
    "model": "แบบจำลอง",
    "lightgbm": "แบบจำลอง LightGBM",
    "logistic": "การถดถอยโลจิสติก",
    "abc rule": "เกณฑ์ ABC",
    "abc_rule": "เกณฑ์ ABC",
}
ATTRIBUTE_WORDS = {
    "sex": "เพศ",
    "nationality": "สัญชาติ",
    "disability": "ความพิการ",
    "poverty": "ความยากจน (กสศ.)",
    "level": "ระดับชั้น",
}
GROUP_WORDS = {
    "M": "ชาย",
    "F": "หญิง",
    "X": "ไม่ระบุ",
    "unknown": "ไม่ทราบ",
    "Thai": "ไทย",
    "other": "อื่น ๆ",
    "none": "ไม่มี",
    "any": "มี",
    "not surveyed": "ไม่ได้สำรวจ",
    "poor": "ยากจน",
    "extremely poor": "ยากจนพิเศษ",
    "extremely_poor": "ยากจนพิเศษ",  # as runs before 2026-11-27 logged it
    "pre-primary/primary": "อนุบาล/ประถม",
    "lower secondary": "มัธยมต้น",
    "upper secondary": "มัธยมปลาย",
    "vocational": "อาชีวศึกษา",
}
METRIC_WORDS = {
    "recall": ("อัตราที่พบ", "leavers found"),
    "fpr": ("อัตราแจ้งเตือนผิด", "stayers flagged"),
    "precision": ("ความแม่นยำ", "flagged who left"),
}


def _scorer(name: str) -> str:
    return SCORER_WORDS.get(name.strip().lower(), name)


def _period(text: str) -> str:
    return {"validation folds": "ช่วงตรวจสอบ", "test period": "ช่วงทดสอบ"}.get(text, text)


def group_word(attribute: str, group: str, language: str) -> str:
    """An audited group ("sex = F") as the language says it."""
    if language != "th":
        return f"{attribute} = {group}"
    return f"{ATTRIBUTE_WORDS.get(attribute, attribute)}: {GROUP_WORDS.get(group, group)}"


def fairness_flag(flag: str, language: str) -> str:
    """A fairness flag ("sex=F (recall, fpr)") as the language says it."""
    found = re.match(r"^(\w+)=(.+?) \((.*?)\)?$", flag)
    if not found:
        return flag
    index = 0 if language == "th" else 1
    metrics = ", ".join(
        METRIC_WORDS[m.strip()][index] if m.strip() in METRIC_WORDS else m.strip()
        for m in found[3].split(",")
    )
    return f"{group_word(found[1], found[2], language)} ({metrics})"


def _columns(listed: str) -> str:
    names = [n.strip().strip("'\"") for n in listed.split(",")]
    return ", ".join(f"{COLUMN_WORDS.get(n, n)} ({n})" if n in COLUMN_WORDS else n for n in names)


def thai(message: str) -> str:
    """A check's English message in Thai (as it is when no pattern knows it)."""
    text = str(message).strip()
    for pattern, replacement in PATTERNS:
        found = pattern.search(text)
        if found:
            return replacement(found) if callable(replacement) else str(replacement)
    if "; " in text:  # several problems, each its own message
        return "; ".join(thai(part) for part in text.split("; "))
    return text


def in_language(message: str, language: str) -> str:
    """The message in the page's language."""
    return thai(message) if language == "th" else str(message)


def column_word(name: str | None, language: str) -> str:
    """A contract column as the page's language names it."""
    if not name:
        return ""
    if language == "th" and name in COLUMN_WORDS:
        return COLUMN_WORDS[name]
    return name


_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def unread_column(note: str, language: str) -> tuple[str, str]:
    """A column the load did not read, as the report names it: its header, and why in
    the page's language when the report says (a second column naming one), else ""."""
    found = second_column(note)
    if found is None:
        return note, ""
    header, named = found
    if _ISO_DAY.match(named) and header == named:  # a register's day given twice
        if language != "th":
            return day(named, "en"), "this day is given twice: where they differ, the first is read"
        return day(named, "th"), "วันนี้ซ้ำสองคอลัมน์ แถวที่ค่าต่างกัน ใช้ค่าของคอลัมน์แรก"
    if language != "th":
        return (
            header,
            f"a second {named} column: where it differs from the first, the first is read",
        )
    # A Thai word runs on; a code stands apart.
    word = COLUMN_WORDS.get(named, f" {named} ")
    return header, f"คอลัมน์{word}ซ้ำ แถวที่ค่าต่างจากคอลัมน์แรก ใช้ค่าของคอลัมน์แรก"
