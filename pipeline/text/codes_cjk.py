"""Numbers, dates, prices, phone numbers, addresses, names and mixed Latin lines as Korean,
Chinese and Taiwanese documents and signs write them: 2026년 11월 22일, 12,000원,
2026年11月22日, ¥1,280, 民國115年12月2日, NT$1,280, "삼성 Galaxy S24 울트라", "iPhone 15 价格",
"華碩 ZenBook 14 價格". Like `pipeline.text.codes_en`, every function draws from the
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


def _big5_level1() -> str:
    """The 5,401 frequently used characters of Big5 (0xA440-0xC67E), Taiwan's common set."""
    out = []
    for lead in range(0xA4, 0xC7):
        for trail in (*range(0x40, 0x7F), *range(0xA1, 0xFF)):
            if (lead, trail) > (0xC6, 0x7E):
                break
            try:
                out.append(bytes([lead, trail]).decode("big5"))
            except UnicodeDecodeError:
                pass
    return "".join(out)


BIG5_LEVEL1 = _big5_level1()

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
    "zh-Hant": {
        "weekdays": "一二三四五六日",
        "surnames": "陳林黃張李王吳劉蔡楊許鄭謝郭洪曾邱廖賴周徐蘇葉莊",
        "cities": ("臺北市", "新北市", "桃園市", "臺中市", "臺南市", "高雄市", "基隆市", "新竹市", "嘉義市",
                   "宜蘭縣", "花蓮縣", "屏東縣"),
        "districts": ("信義區", "大安區", "中正區", "中山區", "板橋區", "西屯區", "東區", "前鎮區", "苓雅區",
                      "北區", "竹北市"),
        "roads": ("忠孝東路", "信義路", "仁愛路", "中山北路", "民生東路", "復興南路", "中正路", "文化路",
                  "民族路", "建國路"),
        "sections": "一二三四五六七",
        "labels": ("合計", "總計", "小計", "稅額", "金額", "單價", "數量", "訂單編號", "發票號碼", "統一編號",
                   "電話", "地址", "日期", "收款", "找零", "現金", "信用卡", "悠遊卡", "會員", "折扣", "收銀員",
                   "營業人", "載具"),
        "brands": ("華碩", "宏碁", "統一", "全家", "義美", "鼎泰豐", "捷安特", "台積電", "中華電信", "蘋果"),
        "things": ("價格", "手機", "電腦", "平板", "耳機", "充電器", "傳輸線", "套餐", "新品", "正品", "特價",
                   "牛奶", "咖啡", "麵包", "礦泉水", "珍珠奶茶", "便當"),
        "latin": ("iPhone 15", "ZenBook 14", "Pro Max", "USB-C", "Wi-Fi", "LED", "5G", "AI", "SSD 1TB",
                  "Bluetooth", "OLED", "Type-C", "CPU", "App", "7-ELEVEN", "LINE Pay"),
    },
}
SYLLABLES = {"ko": KSX1001_HANGUL, "zh": GB2312_LEVEL1, "zh-Hant": BIG5_LEVEL1}
# Chinese documents print full-width punctuation
PUNCTUATION = {"ko": "", "zh": "：，。（）、；！？", "zh-Hant": "：，。（）、；！？「」"}
CHINESE = ("zh", "zh-Hant")


_KO_ZH = "₩¥￥元원년월일시분초年月日时分星期号楼室"         # one set for both, as the first releases had
LOCAL_CHARS = {"ko": _KO_ZH, "zh": _KO_ZH, "zh-Hant": "NT$元年月日時分星期號樓之段巷弄民國上午下午臺幣新"}


def alphabet(lang: str) -> frozenset[str]:
    """Every character these generators can emit for `lang`."""
    t = TABLES[lang]
    chars = set(SYLLABLES[lang]) | set(PUNCTUATION[lang]) | set(LOCAL_CHARS[lang])
    for key in ("weekdays", "surnames", "sections"):
        chars |= set(t.get(key, ""))
    for key in ("cities", "districts", "roads", "labels", "brands", "things", "latin"):
        chars |= set("".join(t[key]))
    return frozenset(chars)


def _won(rng: random.Random) -> int:
    return rng.choice((rng.randint(1, 99) * 100, rng.randint(1, 999) * 100, rng.randint(1, 9999) * 100))


def price(rng: random.Random, lang: str) -> str:
    if lang == "ko":
        value = _won(rng)
        return rng.choice((f"{value:,}원", f"₩{value:,}", f"{value:,} 원", f"{value}원"))
    if lang == "zh-Hant":
        value = rng.choice((rng.randint(1, 99) * 10, rng.randint(1, 9999), rng.randint(1, 99999)))
        return rng.choice((f"NT${value:,}", f"NT$ {value:,}", f"${value:,}", f"{value}元", f"{value:,} 元",
                           f"新臺幣{value:,}元"))
    value = rng.choice((rng.randint(1, 99), rng.randint(1, 9999), round(rng.uniform(0, 500), 2)))
    amount = f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"
    return rng.choice((f"¥{amount}", f"￥{amount}", f"{value}元", f"{amount} 元", f"人民币{amount}元"))


def date(rng: random.Random, lang: str) -> str:
    year, month, day = rng.randint(1950, 2035), rng.randint(1, 12), rng.randint(1, 28)
    weekday = TABLES[lang]["weekdays"][rng.randrange(7)]
    if lang == "ko":
        forms = (f"{year}년 {month}월 {day}일", f"{year}. {month}. {day}.", f"{year}.{month:02d}.{day:02d}",
                 f"{month}월 {day}일 ({weekday})", f"{year}-{month:02d}-{day:02d}", f"{year}년 {month}월")
    elif lang == "zh-Hant":                    # the Republic of China (民國) era counts from 1912
        roc = year - 1911
        forms = (f"民國{roc}年{month}月{day}日", f"{roc}/{month:02d}/{day:02d}", f"{roc}.{month:02d}.{day:02d}",
                 f"{year}年{month}月{day}日", f"{year}/{month:02d}/{day:02d}", f"{month}月{day}日（{weekday}）",
                 f"{roc}年{month}月")
    else:
        forms = (f"{year}年{month}月{day}日", f"{year}-{month:02d}-{day:02d}", f"{month}月{day}日 星期{weekday}",
                 f"{year}/{month:02d}/{day:02d}", f"{year}年{month}月", f"{year}.{month:02d}.{day:02d}")
    return rng.choice(forms)


def time_of_day(rng: random.Random, lang: str) -> str:
    hour, minute = rng.randint(0, 23), rng.randint(0, 59)
    local = {"ko": f"{hour}시 {minute}분", "zh": f"{hour}时{minute:02d}分",
             "zh-Hant": f"{'上午' if hour < 12 else '下午'}{hour % 12 or 12}:{minute:02d}"}[lang]
    return rng.choice((f"{hour:02d}:{minute:02d}", local))


def phone(rng: random.Random, lang: str) -> str:
    d = lambda n: "".join(rng.choice(string.digits) for _ in range(n))  # noqa: E731
    if lang == "ko":
        return rng.choice((f"010-{d(4)}-{d(4)}", f"02-{d(3)}-{d(4)}", f"0{rng.randint(31, 64)}-{d(3)}-{d(4)}",
                           f"+82 10-{d(4)}-{d(4)}", f"1588-{d(4)}"))
    if lang == "zh-Hant":
        return rng.choice((f"09{d(2)}-{d(3)}-{d(3)}", f"(02){d(4)}-{d(4)}", f"02-{d(4)}-{d(4)}",
                           f"0{rng.randint(3, 8)}-{d(3)}-{d(4)}", f"+886 9{d(2)} {d(3)} {d(3)}", f"0800-{d(3)}-{d(3)}"))
    return rng.choice((f"1{rng.randint(30, 99)} {d(4)} {d(4)}", f"1{rng.randint(30, 99)}{d(8)}",
                       f"010-{d(8)}", f"+86 1{rng.randint(30, 99)}-{d(4)}-{d(4)}", f"400-{d(3)}-{d(4)}"))


def address(rng: random.Random, lang: str) -> str:
    t = TABLES[lang]
    city, district, road = rng.choice(t["cities"]), rng.choice(t["districts"]), rng.choice(t["roads"])
    number = rng.randint(1, 999)
    if lang == "ko":
        tail = rng.choice(("", f", {rng.randint(1, 30)}층", f" {rng.randint(101, 1502)}호"))
        return f"{city} {district} {road} {number}{tail}"
    if lang == "zh-Hant":                # 臺北市信義區信義路五段7號12樓之3
        section = f"{rng.choice(t['sections'])}段" if rng.random() < 0.5 else ""
        lane = rng.choice(("", f"{rng.randint(1, 300)}巷", f"{rng.randint(1, 300)}巷{rng.randint(1, 30)}弄"))
        tail = rng.choice(("", f"{rng.randint(1, 30)}樓", f"{rng.randint(1, 30)}樓之{rng.randint(1, 9)}"))
        return f"{city}{district}{road}{section}{lane}{number}號{tail}"
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
    colon = "：" if lang in CHINESE and rng.random() < 0.5 else ":"
    if rng.random() < 0.35:
        return f"{rng.choice(TABLES[lang]['labels'])}{colon} {token(rng, lang)}"
    joiner = "" if lang in CHINESE and rng.random() < 0.3 else " "
    pieces = [token(rng, lang) if not words or rng.random() < 0.5 else rng.choice(words)
              for _ in range(max(1, min(n_words, 4)))]
    return joiner.join(pieces)
