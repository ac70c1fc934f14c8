"""What a support agent may not say to a customer: the bank's collection rules, checked before a reply leaves.

The SMS notice templates already follow these rules (tests/unit/test_notice_templates.py); an agent typing
freely in the console does not, so every message is checked first and held back with the reasons an agent
can act on. A message is blocked when it threatens the customer (arrest, police, jail, lawsuits, home visits,
exposure, blacklists), says the bank will contact or tell third parties (family, employer, contacts), links
outside the official domains, asks for a secret (password, code, full card or ID number, CVV, PIN), carries
a secret itself, or tells an unverified visitor anything about a debt.

These are rules on normalised text (full-width folded, Traditional read as Simplified, lower case), written
for the bank doing something *to the customer*: the words alone are not enough, because agents must be free
to reassure ("我们不会联系您的家人"), warn about scams ("自称警察的电话是诈骗") and state lawful facts
("逾期记录会按规定报送征信"). A false alarm costs the agent one rewording; a miss can cost a customer dearly,
so where a phrasing is ambiguous the guard blocks it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from bot.domain.secrets import INVISIBLE, mask_secrets
from bot.domain.sms_check import RED_FLAGS, URL, BankChannels, _host, default_channels
from bot.language import normalise

# Text that does not leave a clause ("，" and "：" are already "," and ":" after NFKC).
B = r"[^,。!?;:\n]"
# Where a clause ends, for deciding what a negation applies to: punctuation, and the words that start the
# consequence of a condition ("不还就起诉你": the threat is "起诉你", whatever came before "就").
CLAUSE_END = re.compile(
    r"[,。!?;:\n]|\.(?=\s|$)|否则|不然|但是|但|可是|不过|而是|那么|所以|(?<!也)就(?!是|此|这|算)"
    r"|\s(?:but|however|otherwise|or else|then|so|unless|because|although|while|whereas)\b"
)
SENTENCE_END = re.compile(r"[。!?;\n]|\.(?=\s|$)")
# "including us" between commas or brackets is an aside: "Nobody, including us, will visit you" is one clause.
ASIDE = re.compile(
    r"\s*[,(]\s*(?:(?:including|even) (?:us|me|the bank|bank staff|our (?:staff|agents|team))"
    r"|(?:包括|包含|哪怕是|即使是)(?:我们|我行|本行|银行|客服|银行(?:工作人员|员工))(?:在内)?)\s*[,)]\s*"
)
# A question answered "no" at once quotes the customer's fear: "Call your family? No, never."
ANSWERED_NO = re.compile(
    r"\s*(?:不会|不是|没有|当然不|绝不|绝对不|并不|不可能|\bno\b|\bnever\b|\bof course not\b|\babsolutely not\b|\bnot at all\b)"
)

# Negation before a hit in its clause makes it a reassurance ("我们不会上门", "we will never sue you").
NEGATION = re.compile(
    r"不|没|别|勿|无需|无须|禁止|严禁|绝无|从未|并非|\b(?:not|never|no|nobody|none|neither|nor|without|cannot)\b|n't\b"
)
# ... except the customer's not paying, and words that only look negative ("不然", "不良", "不得不").
NOT_A_NEGATION = re.compile(
    r"还不上|还不起|还不了|还不清|不还|没还|没有还|不付|没付|不缴|不交|没交|不处理|不理会?|不接(?:电话)?|不回(?:复|消息|电话)?"
    r"|不联系我们|不配合|拒不|不按时|不及时|不然|不良|不管|不论|不仅|不过|不少|不同意?|不便|不足|不好意思|不得不"
    r"|不客气|别怪|不清楚|没收"
    r"|\b(?:don't|do not|didn't|did not|won't|will not|can't|cannot|can not|couldn't|could not|fail(?:s|ed)? to"
    r"|refuse(?:s|d)? to|never|not|haven't|have not|hasn't|has not|isn't|is not|aren't|are not)\s+"
    r"(?:(?:yet|still|fully|already|been|be|get|make|making)\s+)?(?:(?:re)?pa(?:y|id|ying)\w*|settle\w*|respond\w*"
    r"|reply\w*|answer\w*|cooperat\w*|contact us|call us back|pick up|make (?:a |the |your )?payment)"
    r"|\bno (?:payment|response|reply)\b|\bunpaid\b|\bno later than\b|\bnot only\b"
)
# In the same sentence, these make a hit advice about fraud: someone else is doing or saying it.
SCAM_WARNING = re.compile(
    r"自称|冒充|假冒|假装|伪装|诈骗|骗子|骗局|骗术|话术|不法分子"
    r"|(?:有人|对方|来电|陌生人|任何人)(?:说|称|声称|威胁|要求|索要|告诉)|(?:如果|若|假如|要是|一旦)(?:您|你)?(?:收到|接到)"
    r"|\bclaim(?:s|ing|ed)? to be\b|\bpretend\w*|\bimpersonat\w*|\bposing as\b|\bscam\w*|\bfraudster\w*|\bfake\b"
    r"|\b(?:if|when) (?:someone|anyone|a caller|the caller|they)\b"
    r"|\b(?:someone|anyone|a caller|the caller) (?:who )?(?:says|claims|tells|threatens|asks)\b"
    r"|\b(?:if|when) you (?:get|receive) (?:a|an|any)\b"
)


@dataclass(frozen=True)
class Violation:
    """One rule a message breaks: a code for the console and audit log, and what to do, in both languages."""

    code: str
    reason: dict[str, str]


@dataclass(frozen=True)
class _Rule:
    """Phrasings that say something forbidden, and what in their clause makes saying them harmless."""

    patterns: tuple[re.Pattern[str], ...]
    harmless: re.Pattern[str] | None = None


# --- threat -------------------------------------------------------------------------------------------------
# The scam checker's threat words (sms_check.RED_FLAGS) are things that must never be said to a customer,
# but standing alone they are also how an agent warns about fraud ("自称公安局的电话"), so here they count
# only when the bank, a collector or "someone" is the one who will do them.
ZH_SUBJECT = (
    r"(?:我们|我方|我司|我行|本行|本公司|青禾银行|银行|公司|催收(?:员|人员|部门|团队)?|法务(?:部门?)?|律师|有人|我)"
)
ZH_MODAL = r"(?:会|将|要|就|马上|立即|立刻|准备|打算|可以|可能|已经|正在|只能|只好|不得不|必须|得)"
ZH_PLACE = r"(?:家|住处|老家|工作单位|单位|公司|学校)"
ZH_ACTS = "|".join(
    (
        RED_FLAGS["threat_of_arrest"][0],
        r"起诉|诉讼|打官司|法院|法庭|传票|律师函|法律(?:途径|手段|程序|责任)|司法|报警|报案|公安|警察|派出所|抓(?!紧|住|取|好)"
        r"|拘(?:留|捕)|坐牢|监狱|判刑|刑事|通缉|强制执行|查封|没收|上门|家访|登门|派(?:专|了|出)?人(?!工)"
        rf"|(?:去|到|上|前往)(?:你|您)(?:的)?{ZH_PLACE}|曝光|公开(?:你|您)|黑名单|通讯录|失信|老赖",
    )
)
EN_SUBJECT = (
    r"(?:we|i|the bank|qinghe bank|our (?:bank|team|lawyers?|legal (?:team|department)|collectors?"
    r"|collection (?:team|agents?|department)|agents?|staff|people)|a collector|collectors|someone|somebody|they"
    r"|the police|police|officers?)"
)
EN_MODAL = (
    r"(?:'ll|'re going to|'m going to|'re gonna|\s+(?:will|shall|are going to|am going to|is going to|are gonna"
    r"|gonna|can|could|may|might|would|must|have to|has to|are about to|intend to|plan to|have decided to"
    r"|has decided to|reserve the right to))"
)
EN_ACTS = "|".join(
    (
        RED_FLAGS["threat_of_arrest"][1],
        r"\bsu(?:e|ing)\b|\bprosecut\w*|\b(?:take|bring|drag) you to court|\bcourt\b|\blegal proceedings"
        r"|\bpress(?:ing)? charges|\bfile (?:a )?(?:case|complaint|charges)|\bprison\b|\block you up"
        r"|\bsend (?:someone|somebody|people|a collector|collectors|an agent|agents|a team|our people|our staff)\b"
        r"|\bvisit (?:you|your)\b|\bcome (?:to|round to|over to|after) (?:you|your)\b|\b(?:show|turn) up at\b"
        r"|\bknock on your door|\bexpose (?:you|your)\b|\bshame you|\bname and shame|\bpublicly\b"
        r"|\b(?:publish|post) (?:your|about you)\b|\bblacklist\w*|\bruin (?:you|your)\b|\bmake your life"
        r"|\b(?:track|hunt) you down|\bcome for you",
    )
)
THREAT = _Rule(
    patterns=tuple(
        re.compile(p)
        for p in (
            # The bank (or a collector, or "someone") will do it: "我们会起诉你", "银行将派人上门".
            rf"{ZH_SUBJECT}{B}{{0,6}}?{ZH_MODAL}{B}{{0,10}}?(?:{ZH_ACTS})",
            # It will happen to the customer: "你会被抓", "您等着坐牢吧".
            rf"(?:你|您){B}{{0,6}}?(?:会|将|要|就|得|准备|等着|迟早|肯定|一定|可能|面临|必将){B}{{0,4}}?"
            r"(?:被(?:抓|捕|逮捕|拘留|起诉|告(?!知)|判刑|关(?:进|起来)|拘|列入(?:黑名单|失信)|列为失信|拉黑|曝光|通缉|传唤"
            r"|强制执行)|坐牢|进监狱|蹲监狱|吃官司|上法庭|承担刑事责任|负刑事责任|成为失信被执行人|成为老赖|上黑名单|进黑名单)",
            # Done to "you", whoever says it: "抓你", "起诉您", "把你挂到网上", "等着吃官司".
            r"(?:抓|逮捕|拘留|拘捕|起诉|控告|曝光|拉黑|通缉)(?:你|您)|(?<![转报宣忠广预通公敬])告(?:你|您)(?!们?(?:知|诉))",
            rf"把(?:你|您)(?:的)?{B}{{0,4}}?(?:抓|关进|告上|起诉|列入黑名单|拉黑|曝光|挂(?:到|在)?网上"
            r"|送(?:进|去|到)(?:监狱|派出所|看守所|法院))",
            rf"让(?:你|您){B}{{0,2}}?(?:坐牢|吃官司|进监狱|身败名裂|好看|后悔)",
            rf"等着{B}{{0,2}}?(?:坐牢|被抓|吃官司|收传票|被起诉|上法庭|被告|法院传票|瞧)",
            rf"(?:上|去|到|前往)(?:你|您)(?:的)?{ZH_PLACE}(?:里|去|门口)?(?:找|催|要|拜访|走访|讨|堵|坐)|上(?:你|您)家",
            # Words that are intimidation whoever says them, unless negated or in a scam warning.
            r"坐牢|蹲监狱|进监狱|吃官司|拘留|逮捕|通缉|法院传票|刑事责任|刑事案件|立案侦查|黑名单|老赖|曝光|身败名裂"
            r"|挂(?:到|在)?网上|发(?:到|在)(?:网上|朋友圈|群里|抖音|微博)|爆(?:你|您)?(?:的)?通讯录|打爆|上门|家访|登门|找上门"
            r"|派(?:专|了|出)?人(?!工)|后果自负|后果很?严重|走着瞧|别怪我们不客气|知道(?:你|您)(?:住|家)(?:在)?(?:哪|什么地方)",
            rf"追究{B}{{0,4}}?(?:法律|刑事)责任",
            # The consequence of not paying: "否则将依法起诉", "不还钱的话，就上门".
            rf"(?:否则|不然|再不还|不还(?:钱|款)?(?:的话)?|还不上(?:的话)?|拒不还款|拒绝还款)[^。!?;\n]{{0,14}}?(?:{ZH_ACTS})",
            rf"\b{EN_SUBJECT}{EN_MODAL}\b(?:\s+[\w']+){{0,4}}?\s+(?:{EN_ACTS})",
            r"\byou(?:'ll|'re going to|'re gonna|\s+(?:will|shall|are going to|are gonna|gonna|could|may|might|would"
            r"|can|are about to|are|must|should))?\s+(?:\w+\s+){0,2}?"
            r"(?:be\s+(?:\w+\s+)?(?:arrested|jailed|imprisoned|prosecuted|sued|detained|locked up|taken to court"
            r"|dragged to court|brought to court|blacklisted|exposed|named and shamed|charged|reported to the police"
            r"|put (?:in|behind) (?:jail|prison|bars)|sent to (?:jail|prison)|in (?:jail|prison|court))"
            r"|go(?:ing)? to (?:jail|prison)|end up in (?:jail|prison|court)"
            r"|face (?:\w+\s+)?(?:charges|prosecution|legal action|jail|prison|arrest|a lawsuit|court)"
            r"|get (?:arrested|sued|jailed|locked up|blacklisted)|regret (?:this|it))\b",
            r"\b(?:or else|or face|otherwise|unless you (?:re)?pay\w*|if you (?:don't|do not|won't|will not|can't|cannot"
            r"|fail to|refuse to|still don't|keep ignoring|ignore))\b[^.!?;\n]{0,60}?"
            r"\b(?:police|arrest\w*|jail|prison|court|sue|lawsuit|legal action|prosecut\w*|blacklist\w*"
            r"|your (?:home|house|door|workplace)|expose)\b",
            r"\blegal action against you\b|\bcriminal (?:charges|case|liability|record|proceedings)\b|\barrest warrant\b"
            r"|\bwarrant for your arrest\b|\bcourt summons\b|\bsee you in court\b|\bblacklist(?:ed|ing)?\b"
            r"|\bname and shame\b|\bexpose (?:you|your)\b|\b(?:face|bear) the consequences\b|\b(?:final|last) warning\b"
            r"|\bdebt collectors? (?:at|to|on) your\b|\bat your (?:door|doorstep)\b|\bhome visits?\b"
            r"|\bvisit your (?:home|house|family|workplace|office)\b|\bknow where you (?:live|work)\b"
            r"|\bcome to your (?:home|house|door|doorstep|office|workplace|work)\b",
        )
    ),
    # Helping the customer ("我们会协助您报警") or answering their fear ("您担心会被起诉？") is no threat.
    harmless=re.compile(
        r"(?:帮|帮助|协助|陪同?|替|(?<!因)为|支持)(?:你|您)|担心|担忧|害怕|(?<!恐)怕|顾虑"
        r"|\b(?:help|assist|support)(?:s|ing)? you\b|\bon your behalf\b|\bfor you\b"
        r"|\bworr(?:y|ied|ying|ies)\b|\bscared\b|\bfrighten\w*|\bconcerned\b|\b(?:you(?:'re| are)?|are you)\s+(?:\w+\s+)?afraid\b"
    ),
)

# --- third_party --------------------------------------------------------------------------------------------
ZH_THIRD = (
    r"(?:家人|家里人|家属|亲属|亲戚|亲友|亲人|父母|爸妈|爸爸|妈妈|父亲|母亲|老公|老婆|丈夫|妻子|爱人|配偶|孩子|子女|儿子|女儿"
    r"|兄弟|姐妹|哥哥|姐姐|弟弟|妹妹|朋友|同事|同学|领导|上司|上级|老板|工作单位|单位|公司|人事|hr|紧急联系人|联系人|通讯录"
    r"|邻居|室友|房东|学校|老师|辅导员|村委会|居委会|物业)"
)
ZH_CONTACT = r"(?:联系|联络|打电话给|打给|打到|致电|通知|告诉|告知|找到?|发(?:短信|信息|消息)给|群发(?:给|到)?)"
ZH_WHOSE = r"(?:给|到|一下|过)?(?:你|您)?(?:们)?(?:的)?(?:所有|全部|每一?个|几个|各位)?(?:的)?"
EN_THIRD = (
    r"(?:family|relatives?|parents?|mother|father|mum|mom|dad|wife|husband|spouse|partner|children|kids|son|daughter"
    r"|siblings?|brothers?|sisters?|friends?|employer|boss|manager|colleagues?|co-?workers?|workplace|office|company"
    r"|hr|human resources|contacts?|contact list|phone ?book|address book|references?|neighbou?rs?|school|landlord)"
)
THIRD_PARTY = _Rule(
    patterns=tuple(
        re.compile(p)
        for p in (
            rf"{ZH_CONTACT}{ZH_WHOSE}{ZH_THIRD}",  # "联系你家人", "打给你单位", "通知你的同事"
            rf"向(?:你|您)?(?:的)?{ZH_THIRD}{B}{{0,6}}?(?:透露|说明|告知|催收|讨债|要钱|了解情况|核实|反映)",
            rf"{ZH_THIRD}{B}{{0,6}}?(?:会|将|都会|也会|就会|都将){B}{{0,6}}?(?:知道|收到|接到|听说|被联系|被通知)",
            rf"让(?:你|您)?(?:的)?{ZH_THIRD}{B}{{0,4}}?(?:知道|看看|评评理)",
            r"通讯录",
            r"\b(?:contact|call|ring|phone|text|message|e-?mail|notify|tell|inform|reach out to|get in touch with"
            r"|speak (?:to|with)|talk to|visit|write to|let|involve|approach|go to|come to|(?:show|turn) up at)\b"
            rf"(?:[\s,]+(?!your\b)[\w']+){{0,3}}?[\s,]+(?:your|ur)\s+(?:\w+\s+)?{EN_THIRD}\b",
            rf"\byour\s+(?:\w+\s+)?{EN_THIRD}\b[^.!?;\n]{{0,30}}?\b(?:will|'ll|are going to|is going to|would|could|may|might)\b"
            r"[^.!?;\n]{0,20}?\b(?:know|hear|find out|get (?:a )?calls?|be (?:called|contacted|told|informed|notified|visited)"
            r"|receive|learn|see)\b",
        )
    ),
    # Advice to the customer ("您可以和家人商量", "you may want to tell your family") is theirs to take.
    harmless=re.compile(
        r"(?:您|你)(?:也)?(?:可以|可|不妨|能|需要|愿意)|建议(?:您|你)|(?:和|跟|与|同)(?:您|你)?(?:的)?(?:家人|家属|亲友|朋友|父母|配偶)"
        r"(?:商量|沟通|讨论)|\byou (?:can|could|may|might|should|are welcome to)\b|\b(?:suggest|recommend|advise)(?:s|ed)? (?:that )?you\b"
        r"|\bif you (?:want|wish|like|prefer)\b"
    ),
)

# --- asks_secret --------------------------------------------------------------------------------------------
ZH_CODE = r"(?:验证码|校验码|动态码|短信码|动态密码|密码|口令|cvv2?|cvn2?|cvc|安全码|卡背(?:面)?(?:的)?(?:后)?三位(?:数字|数)?|(?<![a-z])pin(?![a-z])码?)"
# A card or ID number in full, not its last digits ("卡号后四位" is how customers identify a card).
ZH_NUMBER = r"(?:(?:完整|全部|全)(?:的)?)?(?:银行卡|卡|身份证)(?:号码?|全号)(?!码|的?(?:后|尾|末|前))"
ZH_ASK = (
    r"(?:(?:请|麻烦|辛苦|劳驾)(?:您|你)?(?:把|将)?(?:再|先|现在|马上)?(?:提供|告诉|告知|发|发送|报|说(?!明)|念|读|回复|给|私信)"
    r"|(?:告诉|发给|发|报给|给|念给|读给|说给|提供给|发送给|回复给|私信)(?:我|我们)(?!们?(?:会|将))"
    r"|我(?:们)?(?:需要|要|得|想)(?:知道|核对|确认|核实|验证|看|看一下|看看)?(?:一下)?(?:您|你)?(?:的)?"
    r"|(?:需要|要|要求)(?:您|你)(?:提供|告诉|报|发|说|给|确认)|索要|索取)"
)
ZH_ASKED = (
    r"(?:是多少|是几|多少|是什么|发(?:给)?(?:我|我们)|发过来|发一下|报一下|报给我|告诉(?:我|我们)|给(?:我|我们)|念一下|读一下"
    r"|说一下|提供一下|提供给)"
)
_postal = "".join(
    f"(?<!{w} )" for w in ("postal", "zip", "post", "area", "country", "promo", "referral", "discount", "error", "qr")
)
EN_CODE = (
    rf"(?:{_postal}\bcodes?\b|\botps?\b|\bpass(?:code|word)s?\b|\bpins?\b|\bcv[vc]2?\b|\bsecurity (?:number|digits)"
    r"|\bthree digits on the back)"
)
EN_NUMBER = (
    r"(?:\b(?:full |complete |whole |entire |long |16[- ]digit |19[- ]digit )?(?:bank )?card (?:number|details)"
    r"|\b(?:full |complete |whole |entire |18[- ]digit )?(?:id|identity|id card|national id|resident id) (?:card )?number)"
)
EN_ASKS = (
    r"\b(?:send|give|tell|read|text|share|provide|forward|confirm|say|repeat|spell|reply with|pass|show|let|message)\b"
    r"(?: (?:it|that|them))?(?: (?:to|with|over to))? (?:me|us)\b[^.!?;\n]{{0,40}}?{secret}",
    r"\b(?:send|give|tell|read|share|provide|forward|confirm|say|repeat|spell|reply with|type|enter|paste|write|post"
    r"|drop|put)\b[^.!?;\n]{{0,40}}?{secret}[^.!?;\n]{{0,25}}?\b(?:to me|to us|with me|with us|here|in (?:the|this) chat"
    r"|below|in your reply|over the phone)\b",
    r"\bwhat(?:'s| is| was| are)\s+(?:your|ur)\b[^.!?;\n]{{0,25}}?{secret}"
    r"|\bwhat(?:'s| is| was| are)\s+the\s+[^.!?;\n]{{0,20}}?{secret}\s+(?:you|on|in|from)\b",
    r"\b(?:please|pls|plz|kindly|can you|could you|would you|you need to|you must|you have to|i need you to"
    r"|we need you to)\s+(?:\w+\s+){{0,2}}?(?:send|give|tell|read|share|provide|forward|confirm|say|repeat|reply with"
    r"|spell out)\b[^.!?;\n]{{0,40}}?{secret}",
    r"\b(?:i|we)\s+(?:need|require|want|must have|have to get|need to (?:see|know|get|have|verify|check))\b"
    r"[^.!?;\n]{{0,30}}?{secret}",
    r"\bcan (?:i|we) (?:have|get|take)\b[^.!?;\n]{{0,25}}?{secret}",
)
IN_THE_APP = (
    r"(?:青禾银行)?app(?:内|里|中|上)|\b(?:in|on|into|within|inside|through|via) (?:the|our|your) (?:\w+\s+){0,2}?app\b"
)


def _asking(zh_secret: str, en_secret: str) -> tuple[re.Pattern[str], ...]:
    return (
        re.compile(rf"{ZH_ASK}{B}{{0,12}}?{zh_secret}"),  # "请提供验证码", "告诉我您的密码"
        re.compile(rf"{zh_secret}[^,。!?;:\n有期位长]{{0,3}}?{ZH_ASKED}"),  # "您的验证码是多少", "把验证码发给我"
        *(re.compile(p.format(secret=en_secret)) for p in EN_ASKS),
    )


# Entering a code in the app is how the customer verifies; a card's last four digits identify it.
ASKS_CODE = _Rule(
    _asking(ZH_CODE, EN_CODE),
    harmless=re.compile(
        rf"{IN_THE_APP}|是否收到|有没有收到|收到了?(?:吗|没有?)|\bdid you (?:get|receive)\b|\bhave you (?:got|gotten|received)\b"
    ),
)
ASKS_NUMBER = _Rule(
    _asking(ZH_NUMBER, EN_NUMBER),
    harmless=re.compile(rf"{IN_THE_APP}|\blast (?:4|four|6|six) (?:digits|numbers)\b|后[46四六]位|末[46四六]位|尾号"),
)

# --- account_detail_to_anonymous ----------------------------------------------------------------------------
ZH_NUMERAL = "零〇一二三四五六七八九十百千万两"
ACCOUNT_DETAIL = re.compile(
    "|".join(
        (
            # Money: "1,080.00", "1080.00元", "¥100", "12000 CNY", "一千零八十元" (not "3.50%" or "2026.11.28").
            r"(?:¥|cny|rmb|人民币)\s?\d|\d(?:[\d,]*\d)?(?:\.\d+)?\s?(?:元|块|万元|千元|(?:cny|rmb|yuan|kuai)(?![a-z]))",
            r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d%])|(?<![\d.,])\d+\.\d{2}(?![\d%.])",
            rf"[{ZH_NUMERAL}]+(?:元|块钱)|[{ZH_NUMERAL[:-1]}]*[十百千万][{ZH_NUMERAL}]*块",
            # A loan or instalment: "L1001", "loan #12345", "第4期", "instalment 4", "2nd instalment".
            r"(?<![a-z0-9])l\d{3,}[a-z]?(?![a-z0-9])|\bloan\s?(?:no\.?|number|id|#)\s?[:#]?\s?[a-z]{0,3}\d{3,}"
            r"|(?:借款|贷款|合同)(?:编号|号码?)\s?:?\s?[a-z]{0,3}\d{3,}",
            rf"第\s?[0-9{ZH_NUMERAL}]+\s?期|\b(?:instalment|installment|period|repayment)s?\s?(?:no\.?|#)?\s?\d+\b"
            r"|\b\d+(?:st|nd|rd|th)\s(?:instalment|installment|repayment|period)\b",
            # Days overdue: "逾期12天", "12 days overdue" (not a rule such as "逾期90天以上", "more than 90 days overdue").
            rf"逾期(?:了|已)?\s?[0-9{ZH_NUMERAL}]+\s?(?:天|日|个月)(?!以上|以内|内|后|起|之后|及以上)"
            rf"|[0-9{ZH_NUMERAL}]+\s?天(?:未还|没还)",
            r"(?<!more than )(?<!over )(?<!at least )(?<!up to )(?<!within )(?<!after )\b\d+\s?days?\s"
            r"(?:overdue|late|past due|in arrears|behind)\b|\boverdue (?:for|by) \d+\s?days?\b",
            # A borrower's masked phone, card tail or name: "138****1001", "尾号1001", "张*", "L* N*"; a full mobile.
            r"(?<!\d)1\d{2}\*{3,5}\d{3,4}(?!\d)|\*{3,}\d{3,4}|尾号\s?\d{3,4}|\bending (?:in |with )?\d{4}\b|(?<!\d)1[3-9]\d{9}(?!\d)",
            r"[\u4e00-\u9fff]\*{1,3}(?![\d*])|(?<![a-z*])[a-z]\*(?!\*)",
        )
    )
)
IP_LINK = re.compile(r"(?:https?://)?(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?/|https?://(?:\d{1,3}\.){3}\d{1,3}")

REASONS: dict[str, dict[str, str]] = {
    "threat": {
        "zh": "消息含有威胁或恐吓的说法（抓人、报警、坐牢、起诉、上门、曝光、黑名单等）。催收不得威胁客户："
        "请删掉这些说法，只如实说明欠款、还款方式，以及可以申请延期或分期。",
        "en": "The message threatens or intimidates the customer (arrest, police, jail, lawsuits, home visits, exposure, "
        "blacklists). Collection must never threaten anyone: remove it and state only the facts, how to repay, and "
        "that an extension or instalment plan can be requested.",
    },
    "third_party": {
        "zh": "消息说要联系或告知客户的家人、亲友、单位、同事或通讯录联系人。不得向第三方透露或催收客户的欠款："
        "请删掉这部分，只与客户本人沟通。",
        "en": "The message says the bank will contact or tell the customer's family, friends, employer, colleagues or "
        "contacts. A debt is never disclosed to or collected from anyone else: remove this and deal with the customer "
        "only.",
    },
    "link": {
        "zh": "消息含有非官方的链接或网址。只能发送银行官方域名（{domains}）下的链接，或引导客户打开银行App。",
        "en": "The message contains a link or web address outside the bank's official domains ({domains}). Send only "
        "links on an official domain, or point the customer to the bank's app.",
    },
    "asks_secret": {
        "zh": "消息在向客户索要密码、验证码、完整卡号、完整身份证号、CVV或PIN。银行任何人都不会索要这些信息："
        "请删掉这个要求；需要核实身份时，请客户在App内完成验证。",
        "en": "The message asks the customer for a password, verification code, full card number, full ID number, CVV "
        "or PIN. No one at the bank ever asks for these: remove the request, and if identity must be checked, have "
        "the customer verify in the app.",
    },
    "secret_in_text": {
        "zh": "消息本身含有验证码、密码、完整银行卡号或身份证号。消息中不得出现这些信息：请删掉；提到某张卡时只写尾号后四位。",
        "en": "The message itself contains a verification code, password, full card number or ID number. These never go "
        "into a message: remove it, and to refer to a card use only its last four digits.",
    },
    "account_detail_to_anonymous": {
        "zh": "对方尚未验证身份，消息却提到了金额、借款或分期编号、逾期天数，或脱敏的姓名、手机号。验证之前不得透露任何欠款信息："
        "请删掉这些内容，请对方登录App验证身份后再谈。",
        "en": "This visitor is not verified, yet the message mentions an amount, a loan or instalment reference, days "
        "overdue, or a masked name or phone number. Nothing about any debt may be said before verification: remove "
        "it and ask them to log in to the app and verify first.",
    },
}
QUIET_HOURS_REASON = {
    "zh": "现在是免打扰时段（{start}至{end}），客户最近一小时内没有来消息，不能主动联系。请在{end}之后再发送；"
    "客户在此期间来消息时可以回复。",
    "en": "It is within quiet hours ({start} to {end}) and the customer has not written in the last hour, so they may "
    "not be contacted now. Send it after {end}; if the customer writes in the meantime, you may reply.",
}
CUSTOMER_WROTE_RECENTLY = dt.timedelta(hours=1)


def check_agent_message(text: str, *, anonymous: bool, channels: BankChannels | None = None) -> tuple[Violation, ...]:
    """Every collection rule an agent's message breaks, in a fixed order; empty when it may be sent.

    ``anonymous`` is whether the conversation is with an unverified visitor: to them nothing about any debt
    may be said (amounts, loan or instalment references, days overdue, a masked name or phone). ``channels``
    are the bank's official ones (config/bank_channels.yml by default): links elsewhere are blocked.
    """
    channels = channels or default_channels()
    view = _view(text)
    found = {
        "threat": _says(view, THREAT),
        "third_party": _says(view, THIRD_PARTY),
        "link": bool(_unofficial_links(view, channels)),
        "asks_secret": _says(view, ASKS_CODE) or _says(view, ASKS_NUMBER),
        "secret_in_text": mask_secrets(text) != text,
        "account_detail_to_anonymous": anonymous and ACCOUNT_DETAIL.search(view) is not None,
    }
    domains = ", ".join(channels.domains)
    return tuple(
        Violation(code, {lang: sentence.format(domains=domains) for lang, sentence in REASONS[code].items()})
        for code, broken in found.items()
        if broken
    )


def quiet_hours_block(
    now: dt.datetime, last_customer_message_at: dt.datetime | None, policy_start: dt.time, policy_end: dt.time
) -> dict[str, str] | None:
    """Why an agent may not message the customer now, or None when they may.

    In quiet hours (config/notice_policy.yml, ``NoticePolicy.quiet_hours_start``/``_end``, bank-local and
    possibly spanning midnight) the bank does not contact customers, as for SMS notices; but a customer who
    wrote in the last hour is awaiting an answer, and replying is not contacting. All times are naive
    bank-local datetimes; a customer message stamped after ``now`` is not trusted as recent.
    """
    if not _in_quiet_hours(now.time(), policy_start, policy_end):
        return None
    if (
        last_customer_message_at is not None
        and dt.timedelta(0) <= now - last_customer_message_at <= CUSTOMER_WROTE_RECENTLY
    ):
        return None
    start, end = policy_start.strftime("%H:%M"), policy_end.strftime("%H:%M")
    return {lang: sentence.format(start=start, end=end) for lang, sentence in QUIET_HOURS_REASON.items()}


def _in_quiet_hours(t: dt.time, start: dt.time, end: dt.time) -> bool:
    if start > end:  # spans midnight, as 22:00-08:00 does
        return t >= start or t < end
    return start <= t < end


def _view(text: str) -> str:
    """The text as the rules read it: no invisible characters, NFKC, Simplified, lower case, one kind of
    apostrophe, and no spaces inside Chinese ("起 诉 你" is "起诉你")."""
    folded = normalise("".join(ch for ch in text if ch not in INVISIBLE)).replace("\u2019", "'").replace("\u2018", "'")
    folded = ASIDE.sub(" ", folded)
    folded = re.sub(r"(?<=[\u4e00-\u9fff])[ \t]+(?=[\u4e00-\u9fff])", "", folded)
    return re.sub(r"[ \t]+", " ", folded)


def _says(view: str, rule: _Rule) -> bool:
    """Whether some phrasing of the rule is meant: not negated in its clause ("我们不会上门", "we will never
    sue you"), not made harmless by its clause, not in a sentence warning about fraud, and not a question
    answered "no" at once."""
    for pattern in rule.patterns:
        for hit in pattern.finditer(view):
            start, end = _clause_start(view, hit.start()), _clause_end(view, hit.end())
            if NEGATION.search(NOT_A_NEGATION.sub(" ", view[start : hit.end()])):
                continue
            if rule.harmless is not None and rule.harmless.search(view, start, end):
                continue
            if SCAM_WARNING.search(_sentence(view, hit.start(), hit.end())) or _answered_no(view, hit.end()):
                continue
            return True
    return False


def _clause_start(view: str, at: int) -> int:
    start = 0
    for boundary in CLAUSE_END.finditer(view, 0, at):
        start = boundary.end()
    return start


def _clause_end(view: str, at: int) -> int:
    boundary = CLAUSE_END.search(view, at)
    return boundary.start() if boundary else len(view)


def _sentence(view: str, start: int, end: int) -> str:
    first = 0
    for boundary in SENTENCE_END.finditer(view, 0, start):
        first = boundary.end()
    last = SENTENCE_END.search(view, end)
    return view[first : last.start() if last else len(view)]


def _answered_no(view: str, at: int) -> bool:
    boundary = SENTENCE_END.search(view, at)
    return boundary is not None and boundary.group() == "?" and ANSWERED_NO.match(view, boundary.end()) is not None


def _unofficial_links(view: str, channels: BankChannels) -> list[str]:
    """Hosts of links and bare domains (the SMS checker's URL rule) outside the official domains; links to a
    bare IP address are never official."""
    hosts = [_host(m.group(0)) for m in URL.finditer(view)]
    return [h for h in hosts if not channels.official_domain(h)] + [m.group(0) for m in IP_LINK.finditer(view)]
