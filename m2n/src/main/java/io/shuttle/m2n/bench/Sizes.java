package io.shuttle.m2n.bench;

import java.util.Arrays;
import java.util.Locale;

/** Parses "4KiB,64KiB,1MiB" (also B, KB, MB, GiB; case-insensitive) into byte counts. */
final class Sizes {
    private Sizes() {
    }

    static long[] parse(String csv) {
        return Arrays.stream(csv.split(",")).map(String::trim).filter(s -> !s.isEmpty()).mapToLong(Sizes::one).toArray();
    }

    static long one(String s) {
        String u = s.toLowerCase(Locale.ROOT);
        long mult = 1;
        String num = u;
        String[][] units = {{"kib", "1024"}, {"mib", "1048576"}, {"gib", "1073741824"}, {"kb", "1000"},
                {"mb", "1000000"}, {"k", "1024"}, {"m", "1048576"}, {"b", "1"}};
        for (String[] unit : units) {
            if (u.endsWith(unit[0])) {
                mult = Long.parseLong(unit[1]);
                num = u.substring(0, u.length() - unit[0].length());
                break;
            }
        }
        try {
            long v = Long.parseLong(num.trim()) * mult;
            if (v < 0) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad size '" + s + "': use a number with an optional unit, e.g. 4KiB");
        }
    }

    static String label(long bytes) {
        if (bytes >= 1 << 20 && bytes % (1 << 20) == 0) {
            return (bytes >> 20) + "MiB";
        }
        if (bytes >= 1 << 10 && bytes % (1 << 10) == 0) {
            return (bytes >> 10) + "KiB";
        }
        return bytes + "B";
    }
}
