"""Word lists the analyzer uses besides the parameter synonyms."""

from __future__ import annotations

# Function words never count as evidence for a parameter ("весь" even stems to "вес").
STOPWORDS = frozenset(
    """
    a an the of to in on at by for with from into onto and or as is are was were be been being it its this that
    these those there their them they we our you your he she his her i me my which who whom whose what when where
    how than then so such too very much many more most less least can could should would will shall may might
    must do does did not no nor only also just even still about over under after before while if because has have
    had get gets got make makes made become becomes became one ones some any each every other same both either
    и или а но в во на по к ко с со от до из у о об при для про без над под за что чтобы это этот эта эти того
    тот та те так как также же ли бы не ни он она оно они его ее их ему ей им нам нас мы вы ты я мой наш ваш
    весь вся все всех всем всего который которая которое которые чем тем если когда то там тут где очень
    более менее самый свой своя свое свои стать становится становятся станет быть был была было были есть
    """.split()
)

# Parameters that come in a moving and a stationary variant: (moving, stationary).
MOVING_STATIONARY = ((1, 2), (3, 4), (5, 6), (7, 8), (15, 16), (19, 20))

# Words that tell a moving object from a stationary one. Matched by stem.
MOVING_CUES = """
moving move moves motion mobile portable vehicle car van truck lorry bus train tram wagon bicycle bike
motorcycle rocket missile aircraft airplane plane aeroplane helicopter drone ship boat vessel submarine
rotor rotating rotate spinning blade propeller wheel piston shuttle conveyor carriage robot arm
transport transported carry carried travel travels fly flies flying drive driving ride launch
подвижный подвижного подвижная подвижные движущийся движущегося движется движение перемещается
перемещаемый переносной переносить переносят транспорт транспортировать транспортировка автомобиль машина
грузовик фургон автобус поезд вагон велосипед мотоцикл ракета самолет вертолет дрон беспилотник корабль
судно лодка катер ротор вращается вращающийся лопасть винт колесо поршень робот манипулятор летит летать
летел едет ездит плывет возить перевозить
""".split()
STATIONARY_CUES = """
stationary static fixed immobile mounted installed standing stand building house wall roof floor
foundation bridge tower mast pole tank vessel-mounted furnace boiler oven reactor tank pipeline
frame housing base column beam girder dam warehouse shelf table bench workbench factory plant
неподвижный неподвижного неподвижная неподвижные стационарный стационарная установленный закрепленный
стоя стоит стоящий здание дом стена крыша пол фундамент мост башня мачта опора резервуар бак печь
котел реактор трубопровод рама корпус станина колонна балка плотина склад стеллаж стол верстак завод
""".split()
