/*
 * TIMConvExt.h: an extension of libtimconv_c for test programs.
 *
 * NOT PART OF THE ORIGINAL API. The original SDK's message module feeds the conversation list
 * with the messages a program sends and receives; this library has no message module, so a
 * test or a demo uses this function to play a message into a conversation and so drive unread
 * counts, @ mentions, last messages and conversation events from C.
 */
#ifndef TIM_CONV_EXT_H_
#define TIM_CONV_EXT_H_

#include "TIMCloudDef.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Records a message sent or received, as the message module would.
 *
 * json_message: a message JSON object (keys message_*, see TIMMessageManager.h). It names its
 * conversation with kTIMMsgConvId (raw ID) and kTIMMsgConvType. The conversation is created if
 * needed; the message becomes its last message if it is the newest; it counts as unread unless
 * message_is_from_self is true, it was delivered before (same message_msg_id), or it is at or
 * before the read position (message_server_time for C2C, message_seq for groups). A group
 * message whose message_group_at_user_array holds the logged-in user's ID, or
 * "__kImSDK_MesssageAtALL__", adds @ info.
 *
 * cb: the conversation's ConvInfo object afterwards, or "" when the message is older than the
 * conversation's deletion (it stays deleted). ERR_INVALID_PARAMETERS when the message names no
 * valid conversation.
 */
TIM_API int TIMConvExtFeedMessage(const char* json_message, TIMCommCallback cb,
                                  const void* user_data);

#ifdef __cplusplus
}
#endif

#endif /* TIM_CONV_EXT_H_ */
