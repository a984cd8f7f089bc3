import { describe, expect, it } from "vitest";
import {
  describeFormats,
  libcameraSnippet,
  parseFfmpegFormats,
  parseLibcameraList,
  parseV4l2CtlFormats,
  pickSize,
  v4l2NodeRole,
  v4l2Snippet,
} from "../../src/camera/camera-listing.js";
import { parseConfig } from "../../src/config/load.js";

// Outputs as the real tools print them (Raspberry Pi 5 with a Camera Module 3, a Logitech C920).
const RPICAM_HELLO = `Available cameras
-----------------
0 : imx708 [4608x2592 10-bit RGGB] (/base/axi/pcie@120000/rp1/i2c@88000/imx708@1a)
    Modes: 'SRGGB10_CSI2P' : 1536x864 [120.13 fps - (768, 432)/3072x1728 crop]
                             2304x1296 [56.03 fps - (0, 0)/4608x2592 crop]
1 : imx477 [4056x3040 12-bit RGGB] (/base/axi/pcie@120000/rp1/i2c@80000/imx477@1a)
`;

const V4L2_CTL = `ioctl: VIDIOC_ENUM_FMT
	Type: Video Capture

	[0]: 'YUYV' (YUYV 4:2:2)
		Size: Discrete 640x480
			Interval: Discrete 0.033s (30.000 fps)
			Interval: Discrete 0.067s (15.000 fps)
		Size: Discrete 1920x1080
			Interval: Discrete 0.200s (5.000 fps)
	[1]: 'MJPG' (Motion-JPEG, compressed)
		Size: Discrete 1280x720
			Interval: Discrete 0.017s (60.000 fps)
			Interval: Discrete 0.033s (30.000 fps)
		Size: Discrete 1920x1080
			Interval: Discrete 0.033s (30.000 fps)
`;

const FFMPEG = `[video4linux2,v4l2 @ 0x5581c2b0e6c0] Raw       :     yuyv422 :           YUYV 4:2:2 : 640x480 1920x1080
[video4linux2,v4l2 @ 0x5581c2b0e6c0] Compressed:       mjpeg :          Motion-JPEG : 1280x720 1920x1080
/dev/video0: Immediate exit requested
`;

describe("camera listings", () => {
  it("reads rpicam-hello --list-cameras", () => {
    expect(parseLibcameraList(RPICAM_HELLO)).toEqual([
      { index: 0, sensor: "imx708", detail: "4608x2592 10-bit RGGB" },
      { index: 1, sensor: "imx477", detail: "4056x3040 12-bit RGGB" },
    ]);
    expect(parseLibcameraList("No cameras available!")).toEqual([]);
  });

  it("reads v4l2-ctl --list-formats-ext, with ffmpeg's format names", () => {
    const formats = parseV4l2CtlFormats(V4L2_CTL);
    expect(formats.map((f) => f.format)).toEqual(["yuyv422", "mjpeg"]);
    expect(formats[1]?.sizes).toEqual([
      { width: 1280, height: 720, fps: [60, 30] },
      { width: 1920, height: 1080, fps: [30] },
    ]);
    expect(describeFormats(formats)[0]).toBe("yuyv422 (YUYV 4:2:2): 640x480@30,15 1920x1080@5");
  });

  it("reads ffmpeg -list_formats all", () => {
    expect(parseFfmpegFormats(FFMPEG)).toEqual([
      {
        format: "yuyv422",
        description: "YUYV 4:2:2",
        sizes: [
          { width: 640, height: 480, fps: [] },
          { width: 1920, height: 1080, fps: [] },
        ],
      },
      {
        format: "mjpeg",
        description: "Motion-JPEG",
        sizes: [
          { width: 1280, height: 720, fps: [] },
          { width: 1920, height: 1080, fps: [] },
        ],
      },
    ]);
  });

  it("suggests MJPEG at the smallest size of at least 640 wide, at up to 30 fps, as a valid config", () => {
    const snippet = v4l2Snippet("/dev/video0", parseV4l2CtlFormats(V4L2_CTL));
    expect(snippet).toEqual({
      camera: {
        source: "ffmpeg",
        ffmpeg: { input: "v4l2", device: "/dev/video0", input_format: "mjpeg", width: 1280, height: 720, fps: 30 },
      },
    });
    expect(() => parseConfig({ device: { id: "t" }, ...snippet }, "t", "/")).not.toThrow();
    const lib = libcameraSnippet({ index: 1, sensor: "imx477", detail: "" });
    expect(parseConfig({ device: { id: "t" }, ...lib }, "t", "/").config.camera.libcamera.camera).toBe(1);
    expect(v4l2Snippet("/dev/video1", [])).toBeNull();
  });

  it("prefers 640x480 when offered", () => {
    expect(
      pickSize([
        { width: 1920, height: 1080, fps: [] },
        { width: 640, height: 480, fps: [] },
      ]),
    ).toMatchObject({
      width: 640,
    });
    expect(
      pickSize([
        { width: 320, height: 240, fps: [] },
        { width: 160, height: 120, fps: [] },
      ]),
    ).toMatchObject({
      width: 320,
    });
  });

  it("tells cameras from codecs and CSI receivers", () => {
    expect(v4l2NodeRole("HD Pro Webcam C920")).toBe("camera");
    expect(v4l2NodeRole("bcm2835-codec-decode")).toBe("other");
    expect(v4l2NodeRole("pispbe")).toBe("other");
    expect(v4l2NodeRole("rp1-cfe")).toBe("csi");
    expect(v4l2NodeRole("unicam-image")).toBe("csi");
  });
});
