from bot.domain.privacy import mask_name, mask_phone


def test_phone_numbers_show_only_the_first_three_and_last_four_digits():
    assert mask_phone("13900009999") == "139****9999"
    assert mask_phone("+86 138-0000-1001") == "861******1001"
    assert mask_phone("12345") == "*****"


def test_names_show_only_their_first_character_per_part():
    assert mask_name("张伟") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("Li Na") == "L* N*"
