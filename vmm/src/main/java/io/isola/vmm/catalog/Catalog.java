package io.isola.vmm.catalog;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The guest catalog: named kernels and base images with their files and sha256 digests, as
 * written by the guest-image build ({@code guest-image/out/catalog.json}).
 */
public final class Catalog {
  private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
  private static final Pattern FILE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._+-]{0,200}");

  /** A kernel: an uncompressed vmlinux. */
  public record Kernel(String name, Path file, String sha256, String release) {}

  /** A base image: for now an initramfs whose modules match {@code kernelRelease}. */
  public record BaseImage(String name, String kind, Path file, String sha256, String kernelRelease) {}

  private final Path file;
  private final List<Kernel> kernels;
  private final List<BaseImage> baseImages;
  private final String defaultKernel;
  private final String defaultBaseImage;

  private Catalog(Path file, List<Kernel> kernels, List<BaseImage> baseImages, String defaultKernel,
      String defaultBaseImage) {
    this.file = file;
    this.kernels = List.copyOf(kernels);
    this.baseImages = List.copyOf(baseImages);
    this.defaultKernel = defaultKernel;
    this.defaultBaseImage = defaultBaseImage;
  }

  public static Catalog load(Path catalogFile) throws CatalogException {
    JsonNode root;
    try {
      root = new ObjectMapper().readTree(Files.readAllBytes(catalogFile));
    } catch (NoSuchFileException e) {
      throw new CatalogException("no guest catalog at " + catalogFile
          + ": build the guest image first (make guest-image), or point --catalog at one");
    } catch (IOException e) {
      throw new CatalogException("cannot read the guest catalog " + catalogFile + ": " + e.getMessage());
    }
    Path dir = catalogFile.toAbsolutePath().getParent();
    List<Kernel> kernels = new ArrayList<>();
    for (JsonNode k : root.path("kernels")) {
      kernels.add(new Kernel(text(k, "name", catalogFile), file(dir, k, catalogFile), digest(k, catalogFile),
          k.path("release").asText("")));
    }
    List<BaseImage> images = new ArrayList<>();
    for (JsonNode b : root.path("baseImages")) {
      images.add(new BaseImage(text(b, "name", catalogFile), b.path("kind").asText("initramfs"),
          file(dir, b, catalogFile), digest(b, catalogFile), b.path("kernelRelease").asText("")));
    }
    return new Catalog(catalogFile, kernels, images, root.path("defaultKernel").asText(""),
        root.path("defaultBaseImage").asText(""));
  }

  private static String text(JsonNode node, String field, Path catalogFile) throws CatalogException {
    String value = node.path(field).asText("");
    if (value.isEmpty()) {
      throw new CatalogException("catalog " + catalogFile + " has an entry without \"" + field + "\"");
    }
    return value;
  }

  /** File names are plain names inside the catalog's directory: a catalog cannot point elsewhere. */
  private static Path file(Path dir, JsonNode node, Path catalogFile) throws CatalogException {
    String name = text(node, "file", catalogFile);
    if (!FILE_NAME.matcher(name).matches()) {
      throw new CatalogException("catalog " + catalogFile + " names a file outside its directory: " + name);
    }
    return dir.resolve(name);
  }

  private static String digest(JsonNode node, Path catalogFile) throws CatalogException {
    String value = text(node, "sha256", catalogFile);
    if (!SHA256.matcher(value).matches()) {
      throw new CatalogException("catalog " + catalogFile + " has a malformed sha256: " + value);
    }
    return value;
  }

  public Kernel kernel(String name) throws CatalogException {
    String wanted = name == null || name.isEmpty() ? defaultKernel : name;
    return kernels.stream().filter(k -> k.name().equals(wanted)).findFirst()
        .orElseThrow(() -> new CatalogException("unknown kernel \"" + wanted + "\"; the catalog " + file
            + " has: " + kernels.stream().map(Kernel::name).toList()));
  }

  public BaseImage baseImage(String name) throws CatalogException {
    String wanted = name == null || name.isEmpty() ? defaultBaseImage : name;
    return baseImages.stream().filter(b -> b.name().equals(wanted)).findFirst()
        .orElseThrow(() -> new CatalogException("unknown base image \"" + wanted + "\"; the catalog " + file
            + " has: " + baseImages.stream().map(BaseImage::name).toList()));
  }

  /**
   * The base image to boot with {@code kernel}: a base image's modules are built for one kernel
   * release, so it must match. A named image is checked; with no name, the catalog's default if it
   * matches, else the first image built for that kernel's release. An image or kernel that does
   * not say its release matches anything.
   */
  public BaseImage baseImageFor(Kernel kernel, String name) throws CatalogException {
    if (name != null && !name.isEmpty()) {
      BaseImage image = baseImage(name);
      if (!fits(image, kernel)) {
        throw new CatalogException("base image \"" + image.name() + "\" is built for kernel release "
            + image.kernelRelease() + ", kernel \"" + kernel.name() + "\" is " + kernel.release()
            + "; base images for it: " + fitting(kernel));
      }
      return image;
    }
    BaseImage preferred = baseImage(null);
    if (fits(preferred, kernel)) {
      return preferred;
    }
    return baseImages.stream().filter(b -> fits(b, kernel)).findFirst()
        .orElseThrow(() -> new CatalogException("the catalog " + file + " has no base image for kernel \""
            + kernel.name() + "\" (release " + kernel.release() + ")"));
  }

  private static boolean fits(BaseImage image, Kernel kernel) {
    return image.kernelRelease().isEmpty() || kernel.release().isEmpty()
        || image.kernelRelease().equals(kernel.release());
  }

  private List<String> fitting(Kernel kernel) {
    return baseImages.stream().filter(b -> fits(b, kernel)).map(BaseImage::name).toList();
  }

  public List<Kernel> kernels() {
    return kernels;
  }

  public List<BaseImage> baseImages() {
    return baseImages;
  }
}
