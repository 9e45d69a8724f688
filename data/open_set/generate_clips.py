#!/usr/bin/env python3
"""Generate out-of-set speech (``data/open_set/``) with espeak-ng: languages the demo model
does not know, for choosing and measuring the open-set ("unknown") threshold.

SYNTHETIC speech, like data/demo. Each language speaks its sentences below with several
espeak-ng voice variants (the demo's speaker table), 16 kHz mono MP3, plus manifest.jsonl
(``key``, ``language``, ``role``, ``voice``, ``text``, ``duration_s``). ``role`` is
``threshold`` (the pipeline chooses the threshold on these) or ``measure`` (only used to
report the rejection rate): no language is in both. The MP3s are committed, so the
pipeline never needs espeak-ng; it is only needed to regenerate them::

    apt-get install espeak-ng
    .venv/bin/python data/open_set/generate_clips.py
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

HERE = Path(__file__).resolve().parent
TARGET_SR = 16_000
VOICES = (("m1", 40, 135), ("f1", 50, 140), ("m3", 55, 150), ("f2", 60, 155), ("m7", 45, 125), ("f3", 45, 130))

# name: (espeak voice, role, sentences)
LANGUAGES = {
    "Italian": ("it", "threshold", [
        "Oggi il tempo è bello e andiamo al mare con gli amici.",
        "La biblioteca della città apre alle nove di mattina.",
        "Mio fratello lavora in un ristorante vicino alla stazione.",
        "Domani dobbiamo comprare il pane e un po' di frutta fresca.",
        "Il treno per Milano parte con venti minuti di ritardo.",
        "Ho letto un libro molto interessante durante le vacanze."]),
    "Dutch": ("nl", "threshold", [
        "Vandaag is het mooi weer en we gaan fietsen in het park.",
        "De bibliotheek in de stad gaat om negen uur open.",
        "Mijn broer werkt in een restaurant vlak bij het station.",
        "Morgen moeten we brood en wat vers fruit kopen.",
        "De trein naar Amsterdam vertrekt twintig minuten later.",
        "Ik heb in de vakantie een heel interessant boek gelezen."]),
    "Polish": ("pl", "threshold", [
        "Dzisiaj jest piękna pogoda i idziemy z przyjaciółmi nad morze.",
        "Biblioteka miejska jest otwarta od dziewiątej rano.",
        "Mój brat pracuje w restauracji niedaleko dworca.",
        "Jutro musimy kupić chleb i trochę świeżych owoców.",
        "Pociąg do Krakowa odjeżdża z dwudziestominutowym opóźnieniem.",
        "W czasie wakacji przeczytałem bardzo ciekawą książkę."]),
    "Turkish": ("tr", "threshold", [
        "Bugün hava çok güzel ve arkadaşlarımızla denize gidiyoruz.",
        "Şehir kütüphanesi sabah dokuzda açılıyor.",
        "Kardeşim istasyonun yakınındaki bir restoranda çalışıyor.",
        "Yarın ekmek ve biraz taze meyve almamız gerekiyor.",
        "Ankara treni yirmi dakika gecikmeyle kalkıyor.",
        "Tatilde çok ilginç bir kitap okudum."]),
    "Catalan": ("ca", "threshold", [
        "Avui fa bon temps i anem a la platja amb els amics.",
        "La biblioteca de la ciutat obre a les nou del matí.",
        "El meu germà treballa en un restaurant a prop de l'estació.",
        "Demà hem de comprar pa i una mica de fruita fresca.",
        "El tren cap a Barcelona surt amb vint minuts de retard.",
        "Durant les vacances vaig llegir un llibre molt interessant."]),
    "Romanian": ("ro", "threshold", [
        "Astăzi vremea este frumoasă și mergem la mare cu prietenii.",
        "Biblioteca orașului se deschide la ora nouă dimineața.",
        "Fratele meu lucrează într-un restaurant lângă gară.",
        "Mâine trebuie să cumpărăm pâine și niște fructe proaspete.",
        "Trenul spre București pleacă cu douăzeci de minute întârziere.",
        "În vacanță am citit o carte foarte interesantă."]),
    "Ukrainian": ("uk", "threshold", [
        "Сьогодні гарна погода, і ми йдемо з друзями на море.",
        "Міська бібліотека відкривається о дев'ятій ранку.",
        "Мій брат працює в ресторані біля вокзалу.",
        "Завтра нам треба купити хліб і трохи свіжих фруктів.",
        "Потяг до Києва відправляється із запізненням на двадцять хвилин.",
        "Під час відпустки я прочитав дуже цікаву книжку."]),
    "Hungarian": ("hu", "threshold", [
        "Ma szép az idő, és a barátainkkal a tengerpartra megyünk.",
        "A városi könyvtár reggel kilenckor nyit.",
        "A bátyám egy étteremben dolgozik az állomás közelében.",
        "Holnap kenyeret és egy kis friss gyümölcsöt kell vennünk.",
        "A budapesti vonat húsz perc késéssel indul.",
        "A szabadság alatt egy nagyon érdekes könyvet olvastam."]),
    "Icelandic": ("is", "threshold", [
        "Í dag er gott veður og við förum á ströndina með vinum okkar.",
        "Borgarbókasafnið opnar klukkan níu á morgnana.",
        "Bróðir minn vinnur á veitingastað nálægt stöðinni.",
        "Á morgun þurfum við að kaupa brauð og smá ferska ávexti.",
        "Rútan til Akureyrar fer tuttugu mínútum of seint.",
        "Ég las mjög áhugaverða bók í fríinu."]),
    "Persian": ("fa", "threshold", [
        "امروز هوا خوب است و با دوستان به کنار دریا می‌رویم.",
        "کتابخانه شهر ساعت نه صبح باز می‌شود.",
        "برادرم در رستورانی نزدیک ایستگاه کار می‌کند.",
        "فردا باید نان و کمی میوه تازه بخریم.",
        "قطار تهران با بیست دقیقه تأخیر حرکت می‌کند.",
        "در تعطیلات یک کتاب بسیار جالب خواندم."]),
    "Hebrew": ("he", "threshold", [
        "היום מזג האוויר יפה ואנחנו הולכים לים עם החברים.",
        "הספרייה העירונית נפתחת בתשע בבוקר.",
        "אחי עובד במסעדה ליד התחנה.",
        "מחר אנחנו צריכים לקנות לחם וקצת פירות טריים.",
        "הרכבת לחיפה יוצאת באיחור של עשרים דקות.",
        "בחופשה קראתי ספר מעניין מאוד."]),
    "Bengali": ("bn", "threshold", [
        "আজ আবহাওয়া খুব সুন্দর, আমরা বন্ধুদের সাথে সমুদ্রে যাচ্ছি।",
        "শহরের গ্রন্থাগার সকাল নয়টায় খোলে।",
        "আমার ভাই স্টেশনের কাছে একটি রেস্তোরাঁয় কাজ করে।",
        "কাল আমাদের রুটি আর কিছু তাজা ফল কিনতে হবে।",
        "ঢাকার ট্রেন বিশ মিনিট দেরিতে ছাড়ছে।",
        "ছুটিতে আমি একটি খুব মজার বই পড়েছি।"]),
    "Tamil": ("ta", "threshold", [
        "இன்று வானிலை நன்றாக இருக்கிறது, நாங்கள் நண்பர்களுடன் கடற்கரைக்குச் செல்கிறோம்.",
        "நகர நூலகம் காலை ஒன்பது மணிக்குத் திறக்கிறது.",
        "என் அண்ணன் நிலையத்திற்கு அருகில் உள்ள ஒரு உணவகத்தில் வேலை செய்கிறார்.",
        "நாளை நாங்கள் ரொட்டியும் கொஞ்சம் புதிய பழங்களும் வாங்க வேண்டும்.",
        "சென்னை செல்லும் ரயில் இருபது நிமிடம் தாமதமாகப் புறப்படுகிறது.",
        "விடுமுறையில் நான் மிகவும் சுவாரஸ்யமான ஒரு புத்தகம் படித்தேன்."]),
    "Indonesian": ("id", "threshold", [
        "Hari ini cuacanya cerah dan kami pergi ke pantai bersama teman-teman.",
        "Perpustakaan kota buka pukul sembilan pagi.",
        "Kakak saya bekerja di sebuah restoran dekat stasiun.",
        "Besok kami harus membeli roti dan sedikit buah segar.",
        "Kereta ke Bandung berangkat terlambat dua puluh menit.",
        "Saya membaca buku yang sangat menarik selama liburan."]),
    "Vietnamese": ("vi", "threshold", [
        "Hôm nay trời đẹp và chúng tôi đi biển với bạn bè.",
        "Thư viện thành phố mở cửa lúc chín giờ sáng.",
        "Anh trai tôi làm việc ở một nhà hàng gần nhà ga.",
        "Ngày mai chúng tôi phải mua bánh mì và một ít trái cây tươi.",
        "Chuyến tàu đi Hà Nội khởi hành trễ hai mươi phút.",
        "Trong kỳ nghỉ tôi đã đọc một cuốn sách rất thú vị."]),
    "Georgian": ("ka", "threshold", [
        "დღეს კარგი ამინდია და მეგობრებთან ერთად ზღვაზე მივდივართ.",
        "ქალაქის ბიბლიოთეკა დილის ცხრა საათზე იხსნება.",
        "ჩემი ძმა სადგურთან ახლოს რესტორანში მუშაობს.",
        "ხვალ პური და ცოტა ახალი ხილი უნდა ვიყიდოთ.",
        "თბილისის მატარებელი ოცი წუთის დაგვიანებით გადის.",
        "არდადეგებზე ძალიან საინტერესო წიგნი წავიკითხე."]),
    "Swahili": ("sw", "threshold", [
        "Leo hali ya hewa ni nzuri na tunaenda pwani na marafiki.",
        "Maktaba ya jiji hufunguliwa saa tatu asubuhi.",
        "Kaka yangu anafanya kazi katika mgahawa karibu na stesheni.",
        "Kesho tunapaswa kununua mkate na matunda machache mapya.",
        "Treni ya kwenda Dodoma inaondoka ikiwa imechelewa dakika ishirini.",
        "Nilisoma kitabu cha kuvutia sana wakati wa likizo."]),
    "Afrikaans": ("af", "threshold", [
        "Vandag is die weer mooi en ons gaan saam met vriende strand toe.",
        "Die stadsbiblioteek gaan om nege-uur in die oggend oop.",
        "My broer werk in 'n restaurant naby die stasie.",
        "Môre moet ons brood en 'n bietjie vars vrugte koop.",
        "Die trein na Kaapstad vertrek twintig minute laat.",
        "Ek het in die vakansie 'n baie interessante boek gelees."]),
    "Albanian": ("sq", "threshold", [
        "Sot moti është i bukur dhe po shkojmë në det me miqtë.",
        "Biblioteka e qytetit hapet në orën nëntë të mëngjesit.",
        "Vëllai im punon në një restorant afër stacionit.",
        "Nesër duhet të blejmë bukë dhe pak fruta të freskëta.",
        "Treni për në Durrës niset me njëzet minuta vonesë.",
        "Gjatë pushimeve lexova një libër shumë interesant."]),
    "Armenian": ("hy", "threshold", [
        "Այսօր եղանակը լավն է, և մենք ընկերների հետ գնում ենք լիճ։",
        "Քաղաքային գրադարանը բացվում է առավոտյան ժամը ինին։",
        "Եղբայրս աշխատում է կայարանի մոտ գտնվող ռեստորանում։",
        "Վաղը մենք պետք է հաց և մի քիչ թարմ միրգ գնենք։",
        "Գյումրի գնացող գնացքը մեկնում է քսան րոպե ուշացումով։",
        "Արձակուրդի ժամանակ ես մի շատ հետաքրքիր գիրք կարդացի։"]),
    "Azerbaijani": ("az", "threshold", [
        "Bu gün hava gözəldir və dostlarla dənizə gedirik.",
        "Şəhər kitabxanası səhər saat doqquzda açılır.",
        "Qardaşım stansiyanın yaxınlığındakı bir restoranda işləyir.",
        "Sabah çörək və bir az təzə meyvə almalıyıq.",
        "Gəncəyə gedən qatar iyirmi dəqiqə gecikmə ilə yola düşür.",
        "Tətildə çox maraqlı bir kitab oxudum."]),
    "Basque": ("eu", "threshold", [
        "Gaur eguraldi ona dago eta lagunekin hondartzara goaz.",
        "Hiriko liburutegia goizeko bederatzietan irekitzen da.",
        "Nire anaiak geltokiaren ondoko jatetxe batean egiten du lan.",
        "Bihar ogia eta fruta fresko pixka bat erosi behar ditugu.",
        "Bilborako trena hogei minutu berandu irteten da.",
        "Oporretan liburu oso interesgarri bat irakurri nuen."]),
    "Bulgarian": ("bg", "threshold", [
        "Днес времето е хубаво и отиваме на море с приятели.",
        "Градската библиотека отваря в девет часа сутринта.",
        "Брат ми работи в ресторант близо до гарата.",
        "Утре трябва да купим хляб и малко пресни плодове.",
        "Влакът за Варна тръгва с двайсет минути закъснение.",
        "През ваканцията прочетох една много интересна книга."]),
    "Croatian": ("hr", "threshold", [
        "Danas je lijepo vrijeme i idemo s prijateljima na more.",
        "Gradska knjižnica otvara se u devet sati ujutro.",
        "Moj brat radi u restoranu blizu kolodvora.",
        "Sutra moramo kupiti kruh i malo svježeg voća.",
        "Vlak za Split kreće s dvadeset minuta zakašnjenja.",
        "Tijekom praznika pročitao sam vrlo zanimljivu knjigu."]),
    "Latvian": ("lv", "threshold", [
        "Šodien ir jauks laiks, un mēs ar draugiem braucam uz jūru.",
        "Pilsētas bibliotēka atveras deviņos no rīta.",
        "Mans brālis strādā restorānā netālu no stacijas.",
        "Rīt mums jānopērk maize un nedaudz svaigu augļu.",
        "Vilciens uz Daugavpili atiet ar divdesmit minūšu nokavēšanos.",
        "Brīvdienās es izlasīju ļoti interesantu grāmatu."]),
    "Lithuanian": ("lt", "threshold", [
        "Šiandien graži diena, ir mes su draugais važiuojame prie jūros.",
        "Miesto biblioteka atsidaro devintą valandą ryto.",
        "Mano brolis dirba restorane netoli stoties.",
        "Rytoj turime nusipirkti duonos ir šiek tiek šviežių vaisių.",
        "Traukinys į Kauną išvyksta vėluodamas dvidešimt minučių.",
        "Per atostogas perskaičiau labai įdomią knygą."]),
    "Welsh": ("cy", "threshold", [
        "Mae'r tywydd yn braf heddiw ac rydyn ni'n mynd i'r traeth gyda ffrindiau.",
        "Mae llyfrgell y ddinas yn agor am naw o'r gloch y bore.",
        "Mae fy mrawd yn gweithio mewn bwyty ger yr orsaf.",
        "Yfory mae'n rhaid i ni brynu bara ac ychydig o ffrwythau ffres.",
        "Mae'r trên i Gaerdydd yn gadael ugain munud yn hwyr.",
        "Darllenais i lyfr diddorol iawn yn ystod y gwyliau."]),
    "Irish": ("ga", "threshold", [
        "Tá an aimsir go deas inniu agus táimid ag dul chuig an trá le cairde.",
        "Osclaíonn leabharlann na cathrach ag a naoi a chlog ar maidin.",
        "Oibríonn mo dheartháir i mbialann in aice leis an stáisiún.",
        "Amárach caithfimid arán agus roinnt torthaí úra a cheannach.",
        "Fágann an traein go Gaillimh fiche nóiméad déanach.",
        "Léigh mé leabhar an-suimiúil le linn na laethanta saoire."]),
    "Kannada": ("kn", "threshold", [
        "ಇಂದು ಹವಾಮಾನ ಚೆನ್ನಾಗಿದೆ, ನಾವು ಸ್ನೇಹಿತರೊಂದಿಗೆ ಸಮುದ್ರಕ್ಕೆ ಹೋಗುತ್ತಿದ್ದೇವೆ.",
        "ನಗರದ ಗ್ರಂಥಾಲಯ ಬೆಳಿಗ್ಗೆ ಒಂಬತ್ತು ಗಂಟೆಗೆ ತೆರೆಯುತ್ತದೆ.",
        "ನನ್ನ ಅಣ್ಣ ನಿಲ್ದಾಣದ ಹತ್ತಿರದ ಒಂದು ಹೋಟೆಲಿನಲ್ಲಿ ಕೆಲಸ ಮಾಡುತ್ತಾನೆ.",
        "ನಾಳೆ ನಾವು ಬ್ರೆಡ್ ಮತ್ತು ಸ್ವಲ್ಪ ತಾಜಾ ಹಣ್ಣು ಕೊಳ್ಳಬೇಕು.",
        "ಮೈಸೂರಿಗೆ ಹೋಗುವ ರೈಲು ಇಪ್ಪತ್ತು ನಿಮಿಷ ತಡವಾಗಿ ಹೊರಡುತ್ತದೆ.",
        "ರಜೆಯಲ್ಲಿ ನಾನು ತುಂಬಾ ಆಸಕ್ತಿದಾಯಕ ಪುಸ್ತಕ ಓದಿದೆ."]),
    "Malayalam": ("ml", "threshold", [
        "ഇന്ന് നല്ല കാലാവസ്ഥയാണ്, ഞങ്ങൾ കൂട്ടുകാരോടൊപ്പം കടൽത്തീരത്തേക്ക് പോകുന്നു.",
        "നഗരത്തിലെ ഗ്രന്ഥശാല രാവിലെ ഒമ്പത് മണിക്ക് തുറക്കും.",
        "എന്റെ ചേട്ടൻ സ്റ്റേഷന് അടുത്തുള്ള ഒരു ഹോട്ടലിൽ ജോലി ചെയ്യുന്നു.",
        "നാളെ ഞങ്ങൾക്ക് റൊട്ടിയും കുറച്ച് പുതിയ പഴങ്ങളും വാങ്ങണം.",
        "കൊച്ചിയിലേക്കുള്ള തീവണ്ടി ഇരുപത് മിനിറ്റ് വൈകിയാണ് പുറപ്പെടുന്നത്.",
        "അവധിക്കാലത്ത് ഞാൻ വളരെ രസകരമായ ഒരു പുസ്തകം വായിച്ചു."]),
    "Kazakh": ("kk", "threshold", [
        "Бүгін ауа райы жақсы, біз достарымызбен теңізге барамыз.",
        "Қалалық кітапхана таңғы сағат тоғызда ашылады.",
        "Менің ағам вокзалдың жанындағы мейрамханада жұмыс істейді.",
        "Ертең біз нан мен аздап жаңа жеміс сатып алуымыз керек.",
        "Алматыға баратын пойыз жиырма минут кешігіп жүреді.",
        "Демалыс кезінде мен өте қызықты кітап оқыдым."]),
    "Amharic": ("am", "threshold", [
        "ዛሬ የአየር ሁኔታው ጥሩ ነው፤ ከጓደኞቻችን ጋር ወደ ሐይቅ እንሄዳለን።",
        "የከተማው ቤተ መጻሕፍት ጠዋት በሦስት ሰዓት ይከፈታል።",
        "ወንድሜ ከጣቢያው አጠገብ ባለ ምግብ ቤት ይሠራል።",
        "ነገ ዳቦና ትንሽ ትኩስ ፍራፍሬ መግዛት አለብን።",
        "ወደ ባሕር ዳር የሚሄደው ባቡር ሃያ ደቂቃ ዘግይቶ ይነሳል።",
        "በእረፍት ጊዜ በጣም አስደሳች መጽሐፍ አነበብኩ።"]),
    "Burmese": ("my", "threshold", [
        "ဒီနေ့ ရာသီဥတု သာယာလို့ သူငယ်ချင်းတွေနဲ့ ပင်လယ်ကမ်းခြေကို သွားမယ်။",
        "မြို့ စာကြည့်တိုက်ဟာ မနက် ကိုးနာရီမှာ ဖွင့်တယ်။",
        "ကျွန်တော့် အစ်ကိုဟာ ဘူတာရုံနားက စားသောက်ဆိုင်တစ်ဆိုင်မှာ အလုပ်လုပ်တယ်။",
        "မနက်ဖြန် ပေါင်မုန့်နဲ့ လတ်ဆတ်တဲ့ သစ်သီးနည်းနည်း ဝယ်ရမယ်။",
        "မန္တလေးသွားတဲ့ ရထားဟာ မိနစ်နှစ်ဆယ် နောက်ကျပြီး ထွက်တယ်။",
        "အားလပ်ရက်မှာ ကျွန်တော် အရမ်းစိတ်ဝင်စားစရာကောင်းတဲ့ စာအုပ်တစ်အုပ် ဖတ်ခဲ့တယ်။"]),
    "Maori": ("mi", "threshold", [
        "He pai te rangi i tēnei rā, ā, ka haere mātou ki te tātahi me ō mātou hoa.",
        "Ka tuwhera te whare pukapuka o te tāone i te iwa karaka i te ata.",
        "Kei te mahi taku tuakana i tētahi wharekai e tata ana ki te teihana.",
        "Āpōpō me hoko mātou i te parāoa me ētahi huarākau hou.",
        "Ka wehe te tereina ki Tāmaki Makaurau, e rua tekau meneti te tōmuri.",
        "I pānui au i tētahi pukapuka tino pārekareka i ngā hararei."]),
    "Sinhala": ("si", "threshold", [
        "අද කාලගුණය හොඳයි, අපි යාළුවෝ එක්ක මුහුදට යනවා.",
        "නගර පුස්තකාලය උදේ නවයට විවෘත වෙනවා.",
        "මගේ අයියා දුම්රිය ස්ථානය ළඟ අවන්හලක වැඩ කරනවා.",
        "හෙට අපිට පාන් සහ ටිකක් අලුත් පලතුරු ගන්න ඕනේ.",
        "මහනුවර යන දුම්රිය විනාඩි විස්සක් පරක්කු වෙලා පිටත් වෙනවා.",
        "නිවාඩුවේදී මම ගොඩක් රසවත් පොතක් කියෙව්වා."]),
    "Portuguese": ("pt", "measure", [
        "Hoje o tempo está bonito e vamos à praia com os amigos.",
        "A biblioteca da cidade abre às nove horas da manhã.",
        "O meu irmão trabalha num restaurante perto da estação.",
        "Amanhã temos de comprar pão e um pouco de fruta fresca.",
        "O comboio para Lisboa parte com vinte minutos de atraso.",
        "Li um livro muito interessante durante as férias."]),
    "Swedish": ("sv", "measure", [
        "Idag är vädret fint och vi ska cykla i parken.",
        "Stadsbiblioteket öppnar klockan nio på morgonen.",
        "Min bror arbetar på en restaurang nära stationen.",
        "I morgon måste vi köpa bröd och lite färsk frukt.",
        "Tåget till Stockholm går tjugo minuter försenat.",
        "Jag läste en mycket intressant bok under semestern."]),
    "Czech": ("cs", "measure", [
        "Dnes je krásné počasí a jdeme s přáteli na výlet.",
        "Městská knihovna otevírá v devět hodin ráno.",
        "Můj bratr pracuje v restauraci blízko nádraží.",
        "Zítra musíme koupit chleba a trochu čerstvého ovoce.",
        "Vlak do Prahy odjíždí se zpožděním dvaceti minut.",
        "O prázdninách jsem četl velmi zajímavou knihu."]),
    "Finnish": ("fi", "measure", [
        "Tänään on kaunis ilma ja menemme ystävien kanssa rannalle.",
        "Kaupungin kirjasto aukeaa yhdeksältä aamulla.",
        "Veljeni työskentelee ravintolassa aseman lähellä.",
        "Huomenna meidän täytyy ostaa leipää ja vähän tuoreita hedelmiä.",
        "Juna Helsinkiin lähtee kaksikymmentä minuuttia myöhässä.",
        "Luin lomalla erittäin mielenkiintoisen kirjan."]),
    "Japanese": ("ja", "measure", [   # kana: espeak-ng reads kanji poorly
        "きょうは てんきが よくて ともだちと うみに いきます。",
        "まちの としょかんは あさ くじに あきます。",
        "わたしの あには えきの ちかくの レストランで はたらいています。",
        "あした パンと くだものを かわなければ なりません。",
        "おおさかゆきの でんしゃは にじゅっぷん おくれて でます。",
        "やすみの あいだに とても おもしろい ほんを よみました。"]),
    "Korean": ("ko", "measure", [
        "오늘은 날씨가 좋아서 친구들과 바다에 갑니다.",
        "시립 도서관은 아침 아홉 시에 문을 엽니다.",
        "우리 형은 역 근처 식당에서 일합니다.",
        "내일 빵과 신선한 과일을 사야 합니다.",
        "부산행 기차는 이십 분 늦게 출발합니다.",
        "방학 동안 아주 재미있는 책을 읽었습니다."]),
    "Arabic": ("ar", "measure", [
        "الطقس جميل اليوم وسنذهب إلى البحر مع الأصدقاء.",
        "تفتح مكتبة المدينة في الساعة التاسعة صباحا.",
        "يعمل أخي في مطعم قريب من المحطة.",
        "غدا يجب أن نشتري الخبز وبعض الفاكهة الطازجة.",
        "يغادر القطار إلى القاهرة متأخرا عشرين دقيقة.",
        "قرأت كتابا مثيرا جدا خلال العطلة."]),
    "Hindi": ("hi", "measure", [
        "आज मौसम बहुत अच्छा है और हम दोस्तों के साथ समुद्र तट पर जा रहे हैं।",
        "शहर का पुस्तकालय सुबह नौ बजे खुलता है।",
        "मेरा भाई स्टेशन के पास एक रेस्तरां में काम करता है।",
        "कल हमें रोटी और कुछ ताज़े फल खरीदने हैं।",
        "दिल्ली जाने वाली ट्रेन बीस मिनट देर से चल रही है।",
        "छुट्टियों में मैंने एक बहुत दिलचस्प किताब पढ़ी।"]),
    "Greek": ("el", "measure", [
        "Σήμερα ο καιρός είναι ωραίος και πηγαίνουμε στη θάλασσα με τους φίλους.",
        "Η δημοτική βιβλιοθήκη ανοίγει στις εννέα το πρωί.",
        "Ο αδερφός μου δουλεύει σε ένα εστιατόριο κοντά στον σταθμό.",
        "Αύριο πρέπει να αγοράσουμε ψωμί και λίγα φρέσκα φρούτα.",
        "Το τρένο για την Αθήνα φεύγει με είκοσι λεπτά καθυστέρηση.",
        "Διάβασα ένα πολύ ενδιαφέρον βιβλίο στις διακοπές."]),
}


def render(exe: str, voice: str, pitch: int, rate: int, text: str, wav: Path) -> np.ndarray:
    cmd = [exe, "-v", voice, "-s", str(rate), "-p", str(pitch), "-b", "1", "-w", str(wav), "--stdin"]
    subprocess.run(cmd, input=text.encode("utf-8"), check=True, capture_output=True)
    audio, sr = sf.read(str(wav), dtype="float64", always_2d=True)
    y = soxr.resample(audio.mean(axis=1), sr, TARGET_SR, quality="HQ")
    loud = np.flatnonzero(np.abs(y) > 0.01 * np.abs(y).max())
    y = y[max(0, loud[0] - 1280): loud[-1] + 1280]          # trim to the speech, 80 ms margin
    return y * (10 ** (-3 / 20) / np.abs(y).max())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("--voices-per-sentence", type=int, default=2)
    ap.add_argument("--languages", nargs="+", choices=sorted(LANGUAGES), default=sorted(LANGUAGES),
                    help="regenerate only these; the manifest keeps the other languages' rows")
    args = ap.parse_args(argv)
    exe = shutil.which("espeak-ng")
    if exe is None:
        sys.exit("error: espeak-ng is not installed (apt-get install espeak-ng); the committed MP3s need no espeak-ng")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "clip.wav"
        for name, (voice, role, sentences) in LANGUAGES.items():
            if name not in args.languages:
                continue
            folder = args.out / name
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.glob("*.mp3"):
                old.unlink()
            for i, text in enumerate(sentences):
                for j in range(args.voices_per_sentence):
                    variant, pitch, rate = VOICES[(i + j * 3) % len(VOICES)]
                    y = render(exe, f"{voice}+{variant}", pitch, rate, text, wav)
                    key = f"{name}/espeak-{variant}__{i:02d}.mp3"
                    sf.write(str(args.out / key), y.astype(np.float32), TARGET_SR, format="MP3",
                             subtype="MPEG_LAYER_III", compression_level=0.85, bitrate_mode="VARIABLE")
                    rows.append({"key": key, "language": name, "role": role, "voice": f"{voice}+{variant}",
                                 "text": text, "duration_s": round(len(y) / TARGET_SR, 3)})
    written = len(rows)
    manifest = args.out / "manifest.jsonl"
    if manifest.exists():  # keep the rows of the languages not regenerated (their MP3s are unchanged)
        rows += [row for row in map(json.loads, manifest.read_text(encoding="utf-8").splitlines())
                 if row["language"] not in args.languages]
    with manifest.open("w", encoding="utf-8") as f:
        for row in sorted(rows, key=lambda r: r["key"]):
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"wrote {written} clips to {args.out}; the manifest lists {len(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
