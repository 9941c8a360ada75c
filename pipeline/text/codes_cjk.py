"""Numbers, dates, prices, phone numbers, addresses, names and mixed Latin lines as Korean and
Chinese documents and signs write them: 2026년 11월 22일, 12,000원, 2026年11月22日, ¥1,280,
"삼성 Galaxy S24 울트라", "iPhone 15 价格". Like `pipeline.text.codes_en`, every function draws from the
`random.Random` it is given. The place, brand and label words are common nouns and names of
cities and districts; people's names are a common surname and random syllables (characters)."""

from __future__ import annotations

import random
import string
from typing import Callable

from pipeline.text import codes_en as codes


def _euc(encoding: str, leads: range) -> str:
    out = []
    for lead in leads:
        for trail in range(0xA1, 0xFF):
            try:
                out.append(bytes([lead, trail]).decode(encoding))
            except UnicodeDecodeError:
                pass
    return "".join(out)


KSX1001_HANGUL = _euc("euc-kr", range(0xB0, 0xC9))         # the 2,350 syllables of KS X 1001
GB2312_LEVEL1 = _euc("gb2312", range(0xB0, 0xD8))          # the 3,755 characters of GB2312 level 1

TABLES = {
    "ko": {
        "weekdays": "월화수목금토일",
        "surnames": "김이박최정강조윤장임한오서신권황안송류홍",
        "cities": ("서울특별시", "부산광역시", "대구광역시", "인천광역시", "광주광역시", "대전광역시", "울산광역시",
                   "경기도 수원시", "경기도 성남시", "강원도 춘천시", "제주특별자치도 제주시"),
        "districts": ("강남구", "서초구", "종로구", "중구", "해운대구", "수성구", "남동구", "유성구", "분당구", "마포구"),
        "roads": ("테헤란로", "세종대로", "중앙로", "해운대로", "대학로", "한강대로", "올림픽로", "판교역로"),
        "labels": ("합계", "총액", "부가세", "공급가액", "주문번호", "영수증", "전화", "주소", "결제", "카드", "현금",
                   "수량", "단가", "금액", "할인", "거스름돈", "일시", "사업자번호", "대표", "가맹점", "승인번호"),
        "brands": ("삼성", "엘지", "현대", "기아", "롯데", "농심", "오뚜기", "신세계", "이마트", "쿠팡"),
        "things": ("울트라", "프로", "플러스", "에디션", "세트", "신제품", "정품", "무선", "스마트", "라면", "커피",
                   "우유", "생수", "과자", "케이블", "충전기", "이어폰", "노트북"),
        "latin": ("Galaxy S24", "iPhone 15", "Pro Max", "USB-C", "Wi-Fi", "LED", "TV", "SSD 1TB", "5G",
                  "Bluetooth", "OLED", "AI", "K-POP", "GS25", "CU", "KT", "SK"),
    },
    "zh": {
        "weekdays": "一二三四五六日",
        "surnames": "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗",
        "cities": ("北京市", "上海市", "广州市", "深圳市", "天津市", "重庆市", "杭州市", "南京市", "成都市",
                   "武汉市", "西安市"),
        "districts": ("朝阳区", "海淀区", "浦东新区", "天河区", "南山区", "西湖区", "武侯区", "江汉区", "雁塔区"),
        "roads": ("建国路", "人民路", "中山路", "解放路", "世纪大道", "长安街", "南京路", "科技园路", "和平路"),
        "labels": ("合计", "总计", "税额", "金额", "单价", "数量", "订单号", "发票号码", "电话", "地址", "日期",
                   "收款", "找零", "现金", "微信支付", "支付宝", "会员", "折扣", "小计", "收银员"),
        "brands": ("华为", "小米", "联想", "海尔", "比亚迪", "格力", "美的", "京东", "淘宝", "苹果"),
        "things": ("价格", "手机", "电脑", "平板", "耳机", "充电器", "数据线", "套装", "新品", "正品", "特价",
                   "牛奶", "咖啡", "面包", "矿泉水"),
        "latin": ("iPhone 15", "Mate 60 Pro", "Pro Max", "USB-C", "Wi-Fi", "LED", "5G", "AI", "SSD 1TB",
                  "Bluetooth", "OLED", "Type-C", "CPU", "App"),
    },
}
SYLLABLES = {"ko": KSX1001_HANGUL, "zh": GB2312_LEVEL1}
PUNCTUATION = {"ko": "", "zh": "：，。（）、；！？"}    # Chinese documents print full-width punctuation


def alphabet(lang: str) -> frozenset[str]:
    """Every character these generators can emit for `lang`."""
    t = TABLES[lang]
    chars = set(SYLLABLES[lang]) | set(PUNCTUATION[lang]) | set("₩¥￥元원년월일시분초年月日时分星期号楼室")
    for key in ("weekdays", "surnames"):
        chars |= set(t[key])
    for key in ("cities", "districts", "roads", "labels", "brands", "things", "latin"):
        chars |= set("".join(t[key]))
    return frozenset(chars)


def _won(rng: random.Random) -> int:
    return rng.choice((rng.randint(1, 99) * 100, rng.randint(1, 999) * 100, rng.randint(1, 9999) * 100))


def price(rng: random.Random, lang: str) -> str:
    if lang == "ko":
        value = _won(rng)
        return rng.choice((f"{value:,}원", f"₩{value:,}", f"{value:,} 원", f"{value}원"))
    value = rng.choice((rng.randint(1, 99), rng.randint(1, 9999), round(rng.uniform(0, 500), 2)))
    amount = f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"
    return rng.choice((f"¥{amount}", f"￥{amount}", f"{value}元", f"{amount} 元", f"人民币{amount}元"))


def date(rng: random.Random, lang: str) -> str:
    year, month, day = rng.randint(1950, 2035), rng.randint(1, 12), rng.randint(1, 28)
    weekday = TABLES[lang]["weekdays"][rng.randrange(7)]
    if lang == "ko":
        forms = (f"{year}년 {month}월 {day}일", f"{year}. {month}. {day}.", f"{year}.{month:02d}.{day:02d}",
                 f"{month}월 {day}일 ({weekday})", f"{year}-{month:02d}-{day:02d}", f"{year}년 {month}월")
    else:
        forms = (f"{year}年{month}月{day}日", f"{year}-{month:02d}-{day:02d}", f"{month}月{day}日 星期{weekday}",
                 f"{year}/{month:02d}/{day:02d}", f"{year}年{month}月", f"{year}.{month:02d}.{day:02d}")
    return rng.choice(forms)


def time_of_day(rng: random.Random, lang: str) -> str:
    hour, minute = rng.randint(0, 23), rng.randint(0, 59)
    local = f"{hour}시 {minute}분" if lang == "ko" else f"{hour}时{minute:02d}分"
    return rng.choice((f"{hour:02d}:{minute:02d}", local))


def phone(rng: random.Random, lang: str) -> str:
    d = lambda n: "".join(rng.choice(string.digits) for _ in range(n))  # noqa: E731
    if lang == "ko":
        return rng.choice((f"010-{d(4)}-{d(4)}", f"02-{d(3)}-{d(4)}", f"0{rng.randint(31, 64)}-{d(3)}-{d(4)}",
                           f"+82 10-{d(4)}-{d(4)}", f"1588-{d(4)}"))
    return rng.choice((f"1{rng.randint(30, 99)} {d(4)} {d(4)}", f"1{rng.randint(30, 99)}{d(8)}",
                       f"010-{d(8)}", f"+86 1{rng.randint(30, 99)}-{d(4)}-{d(4)}", f"400-{d(3)}-{d(4)}"))


def address(rng: random.Random, lang: str) -> str:
    t = TABLES[lang]
    city, district, road = rng.choice(t["cities"]), rng.choice(t["districts"]), rng.choice(t["roads"])
    number = rng.randint(1, 999)
    if lang == "ko":
        tail = rng.choice(("", f", {rng.randint(1, 30)}층", f" {rng.randint(101, 1502)}호"))
        return f"{city} {district} {road} {number}{tail}"
    tail = rng.choice(("", f"{rng.randint(1, 30)}楼", f"{rng.randint(1, 30)}号楼{rng.randint(101, 2502)}室"))
    return f"{city}{district}{road}{number}号{tail}"


def person(rng: random.Random, lang: str) -> str:
    """A surname and one or two random syllables (characters): names cover rare ones too."""
    given = "".join(rng.choice(SYLLABLES[lang]) for _ in range(rng.choice((1, 2, 2, 2))))
    return rng.choice(TABLES[lang]["surnames"]) + given


def product(rng: random.Random, lang: str) -> str:
    """Mixed Latin and Hangul/Hanzi, as on shelves and receipts: "삼성 Galaxy S24 울트라"."""
    t = TABLES[lang]
    forms: tuple[Callable[[], str], ...] = (
        lambda: f"{rng.choice(t['brands'])} {rng.choice(t['latin'])} {rng.choice(t['things'])}",
        lambda: f"{rng.choice(t['latin'])} {rng.choice(t['things'])}",
        lambda: f"{rng.choice(t['brands'])} {codes.code(rng)}",
        lambda: f"{rng.choice(t['things'])} {codes.quantity(rng)}",
    )
    return rng.choice(forms)()


GENERATORS = (price, price, date, time_of_day, phone, address, person, product, product)


def token(rng: random.Random, lang: str) -> str:
    kind = rng.random()
    if kind < 0.15:
        return codes.token(rng)         # plain numbers and codes read the same everywhere
    return rng.choice(GENERATORS)(rng, lang)


def line(rng: random.Random, words: list[str], n_words: int, lang: str) -> str:
    """A receipt-, form- or sign-like line: a label and a value, or a few values and words."""
    colon = "：" if lang == "zh" and rng.random() < 0.5 else ":"
    if rng.random() < 0.35:
        return f"{rng.choice(TABLES[lang]['labels'])}{colon} {token(rng, lang)}"
    joiner = "" if lang == "zh" and rng.random() < 0.3 else " "
    pieces = [token(rng, lang) if not words or rng.random() < 0.5 else rng.choice(words)
              for _ in range(max(1, min(n_words, 4)))]
    return joiner.join(pieces)
