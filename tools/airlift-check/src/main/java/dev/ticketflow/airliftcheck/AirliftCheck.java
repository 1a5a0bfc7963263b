package dev.ticketflow.airliftcheck;

import io.airlift.slice.Slice;
import io.airlift.slice.Slices;
import io.airlift.stats.TDigest;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * Reads base64 t-digests with airlift's {@link TDigest} (the class behind Trino's and Athena's
 * {@code tdigest} type) and prints, as one JSON object, what Trino's functions would answer.
 *
 * <p>Input (files named as arguments, or standard input): one base64 digest a line; a line starting
 * with {@code #} starts a new group named by the rest of the line; blank lines are skipped.
 *
 * <p>Options:
 * <ul>
 * <li>{@code --quantiles=0.5,0.9,0.99}: the quantiles to read (default 0.5).</li>
 * <li>{@code --mode=merge} (default): per group, {@code value_at_quantile(merge(CAST(d AS tdigest)), q)}
 * exactly as Trino computes it: every digest is deserialized ({@code CAST(varbinary AS tdigest)}),
 * folded with {@code MergeTDigestAggregation.merge} (the first input becomes the state, the next ones
 * are {@code mergeWith}-ed into it), the state is written out as the aggregate's result
 * ({@code TDigest.serialize()}) and read back for {@code value_at_quantile} ({@code valueAt}).</li>
 * <li>{@code --partials=N} (merge mode, default 1): simulates a distributed aggregation: the digests
 * of a group are dealt round-robin to N partial states, each passed through the intermediate
 * serialization (serialize, deserialize) and then combined in order into the final state.</li>
 * <li>{@code --mode=each}: one result per digest, without any merge:
 * {@code value_at_quantile(CAST(d AS tdigest), q)}.</li>
 * </ul>
 *
 * <p>Output: {@code {"results":[{"name","digests","count","min","max","compression","centroids",
 * "values","serialized"}]}}, where {@code values} follow {@code --quantiles}, {@code centroids} is
 * the centroid count of the result as Trino writes it, and {@code serialized} is its base64 (merge
 * mode only). Non-finite numbers print as {@code null}. A digest that airlift refuses ends the run
 * with exit code 1 and the exception on standard error.
 */
public final class AirliftCheck
{
    private AirliftCheck() {}

    private record Group(String name, List<byte[]> digests) {}

    public static void main(String[] args)
            throws IOException
    {
        // airlift sizes its objects with JOL, which prints warnings to standard output when it first
        // loads: keep standard output for the JSON alone.
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        System.setOut(System.err);
        double[] quantiles = {0.5};
        String mode = "merge";
        int partials = 1;
        List<String> files = new ArrayList<>();
        for (String arg : args) {
            if (arg.startsWith("--quantiles=")) {
                String[] parts = arg.substring("--quantiles=".length()).split(",");
                quantiles = new double[parts.length];
                for (int i = 0; i < parts.length; i++) {
                    quantiles[i] = Double.parseDouble(parts[i].trim());
                }
            }
            else if (arg.startsWith("--mode=")) {
                mode = arg.substring("--mode=".length());
                if (!mode.equals("merge") && !mode.equals("each")) {
                    throw new IllegalArgumentException("--mode must be merge or each, got " + mode);
                }
            }
            else if (arg.startsWith("--partials=")) {
                partials = Integer.parseInt(arg.substring("--partials=".length()));
                if (partials < 1) {
                    throw new IllegalArgumentException("--partials must be at least 1");
                }
            }
            else if (arg.startsWith("--")) {
                throw new IllegalArgumentException("unknown option " + arg);
            }
            else {
                files.add(arg);
            }
        }

        List<Group> groups = new ArrayList<>();
        if (files.isEmpty() || files.equals(List.of("-"))) {
            read(new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)), groups);
        }
        else {
            for (String file : files) {
                try (BufferedReader reader = Files.newBufferedReader(Path.of(file), StandardCharsets.UTF_8)) {
                    read(reader, groups);
                }
            }
        }

        StringBuilder json = new StringBuilder("{\"results\":[");
        boolean first = true;
        for (Group group : groups) {
            if (mode.equals("each")) {
                int index = 0;
                for (byte[] bytes : group.digests()) {
                    // CAST(varbinary AS tdigest), then value_at_quantile on it: no merge at all
                    TDigest digest = TDigest.deserialize(Slices.wrappedBuffer(bytes));
                    first = append(json, first, group.name() + "#" + index++, 1, digest, Slices.wrappedBuffer(bytes), false, quantiles);
                }
            }
            else {
                TDigest state = mergeGroup(group.digests(), partials);
                if (state == null) {
                    continue;
                }
                // The aggregate's output: TDigestType.writeObject, i.e. serialize(); value_at_quantile
                // then works on the deserialized result.
                Slice output = state.serialize();
                TDigest result = TDigest.deserialize(output);
                first = append(json, first, group.name(), group.digests().size(), result, output, true, quantiles);
            }
        }
        json.append("]}");
        out.println(json);
        out.flush();
    }

    private static void read(BufferedReader reader, List<Group> groups)
            throws IOException
    {
        Group current = null;
        String line;
        while ((line = reader.readLine()) != null) {
            line = line.trim();
            if (line.isEmpty()) {
                continue;
            }
            if (line.startsWith("#")) {
                current = new Group(line.substring(1).trim(), new ArrayList<>());
                groups.add(current);
                continue;
            }
            if (current == null) {
                current = new Group("", new ArrayList<>());
                groups.add(current);
            }
            current.digests().add(Base64.getDecoder().decode(line));
        }
    }

    private static TDigest mergeGroup(List<byte[]> digests, int partials)
    {
        if (partials == 1) {
            TDigest state = null;
            for (byte[] bytes : digests) {
                state = merge(state, TDigest.deserialize(Slices.wrappedBuffer(bytes)));
            }
            return state;
        }
        TDigest[] states = new TDigest[partials];
        for (int i = 0; i < digests.size(); i++) {
            states[i % partials] = merge(states[i % partials], TDigest.deserialize(Slices.wrappedBuffer(digests.get(i))));
        }
        TDigest state = null;
        for (TDigest partial : states) {
            if (partial != null) {
                // the intermediate state crosses the exchange serialized (TDigestStateSerializer)
                state = merge(state, TDigest.deserialize(partial.serialize()));
            }
        }
        return state;
    }

    /** Trino's MergeTDigestAggregation.merge: the first input becomes the state, later ones merge into it. */
    private static TDigest merge(TDigest state, TDigest input)
    {
        if (state == null) {
            return input;
        }
        state.mergeWith(input);
        return state;
    }

    /** Appends one result; {@code bytes} is the digest's serialized form, which gives its header fields. */
    private static boolean append(StringBuilder json, boolean first, String name, int digests, TDigest digest, Slice bytes, boolean includeBytes, double[] quantiles)
    {
        if (!first) {
            json.append(',');
        }
        json.append("{\"name\":");
        string(json, name);
        json.append(",\"digests\":").append(digests);
        json.append(",\"count\":").append(number(digest.getCount()));
        json.append(",\"min\":").append(number(digest.getMin()));
        json.append(",\"max\":").append(number(digest.getMax()));
        // header: format byte, min, max, compression, total weight, then the int32 centroid count
        json.append(",\"compression\":").append(number(bytes.getDouble(17)));
        json.append(",\"centroids\":").append(bytes.getInt(33));
        json.append(",\"values\":[");
        for (int i = 0; i < quantiles.length; i++) {
            if (i > 0) {
                json.append(',');
            }
            // value_at_quantile(tdigest, q) is TDigest.valueAt(q)
            json.append(number(digest.valueAt(quantiles[i])));
        }
        json.append(']');
        if (includeBytes) {
            json.append(",\"serialized\":\"").append(Base64.getEncoder().encodeToString(bytes.getBytes())).append('"');
        }
        json.append('}');
        return false;
    }

    private static String number(double value)
    {
        return Double.isFinite(value) ? Double.toString(value) : "null";
    }

    private static void string(StringBuilder json, String value)
    {
        json.append('"');
        for (char c : value.toCharArray()) {
            if (c == '"' || c == '\\') {
                json.append('\\').append(c);
            }
            else if (c < 0x20) {
                json.append(String.format("\\u%04x", (int) c));
            }
            else {
                json.append(c);
            }
        }
        json.append('"');
    }
}
