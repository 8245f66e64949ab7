import { describe, expect, it } from "vitest";
import { isRefusedAddress, urlProblem } from "../../../services/webhooks/url-policy";

describe("webhook URL policy", () => {
	it.each([
		["https://erp.example.com/hooks", null],
		["http://93.184.216.34:8080/in", null],
		["https://[2606:2800:220:1::1]/in", null],
		["ftp://example.com/", "must start with https:// or http://"],
		["not a url", "is not a valid URL"],
		["https://user:pw@example.com/", "must not carry credentials"],
		["https://example.com/#x", "must not have a fragment"],
		["http://localhost:3000/", "names a local or metadata host"],
		["http://api.localhost/", "names a local or metadata host"],
		["http://metadata.google.internal/computeMetadata/v1/", "names a local or metadata host"],
	])("%s (production) -> %s", (url, problem) => {
		expect(urlProblem(url, false)).toBe(problem);
	});

	it.each([
		"http://127.0.0.1/",
		"http://127.1.2.3:9000/",
		"http://10.1.2.3/",
		"http://172.16.0.1/",
		"http://172.31.255.255/",
		"http://192.168.1.1/",
		"http://169.254.169.254/latest/meta-data/",
		"http://100.64.0.1/",
		"http://0.0.0.0/",
		"http://[::1]/",
		"http://[fd00:ec2::254]/",
		"http://[fe80::1]/",
		"http://[::ffff:127.0.0.1]/",
		"http://[::ffff:a9fe:a9fe]/",
		"http://2130706433/",
		"http://0x7f000001/",
	])("refuses %s in production, allows it with allowPrivate", url => {
		expect(urlProblem(url, false)).toMatch(/address|host/);
		expect(urlProblem(url, true)).toBeNull();
	});

	it.each([
		["127.0.0.1", true],
		["10.0.0.1", true],
		["172.15.255.255", false],
		["172.32.0.1", false],
		["8.8.8.8", false],
		["::ffff:8.8.8.8", false],
		["::ffff:10.0.0.1", true],
		["2001:4860:4860::8888", false],
		["fc00::1", true],
		["not-an-ip", true],
	])("address %s refused: %s", (ip, refused) => {
		expect(isRefusedAddress(ip)).toBe(refused);
	});
});
